using Distill.Models.Checkpoints;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Tests;

/// <summary>The preference stage through the composition root and the actors: teacher, mimic, preference (dataset
/// pairs plus pairs mined from the student), eval, on a very small configuration.</summary>
public class PreferencePipelineTests
{
    [Fact]
    public async Task Preference_continues_the_mimic_student_and_writes_student_pref_which_eval_scores()
    {
        using var dir = new TempDir();
        string run = Path.Combine(dir.Path, "run");
        // The dataset pairs point at images the run generates before any stage starts.
        string image = Path.Combine(run, "data", "images", "train_00001.png");
        var pairs = dir.File("pairs.jsonl",
            $"{{\"image\": \"{image}\", \"question\": \"how many objects are there?\", \"chosen\": \"two\", \"rejected\": \"five\"}}\n" +
            $"{{\"image\": \"{image}\", \"question\": \"is there a red circle?\", \"chosen\": \"no\", \"rejected\": \"yes\"}}\n");
        var config = ConfigLoader.Load(new ConfigSources
        {
            Preset = "tiny",
            RunDir = run,
            Overrides =
            [
                "distill.data.train-scenes = 24", "distill.data.test-scenes = 8", "distill.data.val-scenes = 8",
                "distill.stages = [teacher, mimic, preference, eval]",
                "distill.preference.sources = [dataset, student-sampled, hallucination]",
                $"distill.preference.dataset-file = \"{pairs}\"",
            ],
        });
        var (loaded, paths) = RunDirectory.Create(config, DateTimeOffset.UtcNow);

        int exit = (await PipelineHost.RunAsync(loaded.Settings, paths, NullStageProgress.Instance, CancellationToken.None)).ExitCode;

        Assert.Equal(0, exit);
        var entries = new RunLedger(paths.Ledger).ReadAll();
        Assert.Equal(
            ["teacher:started", "teacher:completed", "mimic:started", "mimic:completed", "preference:started", "preference:completed",
             "eval:started", "eval:completed"],
            entries.Select(e => $"{e.Stage}:{e.Status.ToString().ToLowerInvariant()}"));
        var preference = entries.Single(e => e.Stage == "preference" && e.Status == RunLedgerStatus.Completed);
        Assert.Equal(preference.ShardsIssued, preference.ShardsConsumed);
        var f = preference.Figures!;
        Assert.Equal(2, f["pairs_dataset"]);
        Assert.Equal(f["train_pairs"], f.Where(kv => kv.Key.StartsWith("pairs_") && kv.Key != "pairs_per_second").Sum(kv => kv.Value));
        Assert.InRange(f["accuracy_before"], 0, 1);
        Assert.InRange(f["accuracy_after"], 0, 1);
        Assert.True(double.IsFinite(f["reward_margin_before"]) && double.IsFinite(f["reward_margin_after"]));
        Assert.True(double.IsFinite(f["loss_first"]) && double.IsFinite(f["loss_last"]));
        Assert.Equal(Math.Min(48, Distill.Stages.Data.ShapesDataset.ReadSplit(paths.Data, "train").Count), f["mined_prompts"]); // tiny: prompts = 48

        string studentPref = Path.Combine(paths.Checkpoints, "student-pref");
        Assert.Equal(studentPref, preference.Checkpoint);
        using (var reloaded = Checkpoint.Load(studentPref))
        using (var student = Checkpoint.Load(Path.Combine(paths.Checkpoints, "student-moe")))
            Assert.Equal(student.ParameterCount(), reloaded.ParameterCount());
        Assert.Equal(["teacher", "dense", "moe", "preference"], EvaluationStage.ReadResults(Path.Combine(paths.Root, "eval")).Select(r => r.Model));
        Assert.Contains("| preference |", File.ReadAllText(paths.Report));
    }
}
