using Distill.Models.Checkpoints;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Tests;

/// <summary>The whole pipeline through the composition root and the actors, on a very small configuration.</summary>
public class PipelineHostTests
{
    [Fact]
    public async Task Every_stage_runs_in_bfloat16_and_writes_bfloat16_checkpoints_that_load()
    {
        using var dir = new TempDir();
        var (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run"), "distill.dtype = bfloat16");

        var outcome = await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None);

        Assert.True(outcome.ExitCode == 0, outcome.Failure?.Detail?.Text);
        var entries = new RunLedger(paths.Ledger).ReadAll();
        var mimic = entries.Single(e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
        Assert.True(mimic.Figures!["d2d_heldout_kl_last"] < mimic.Figures["d2d_heldout_kl_first"],
            $"bfloat16 mimic held-out KL {mimic.Figures["d2d_heldout_kl_first"]} -> {mimic.Figures["d2d_heldout_kl_last"]}");
        foreach (var name in (string[])["teacher", "sft", "student-dense", "student-moe", "student-pref", "student-mod"])
        {
            var checkpoint = Path.Combine(paths.Checkpoints, name);
            var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(checkpoint, Checkpoint.ConfigFile)))!;
            Assert.Equal("bfloat16", json["torch_dtype"]!.GetValue<string>());
            var (tensors, _, _) = SafeTensors.ReadHeader(Path.Combine(checkpoint, Checkpoint.WeightsFile));
            Assert.All(tensors, t => Assert.Equal((name, "BF16"), (name, t.DType)));
        }
        using (var moe = Checkpoint.Load(Path.Combine(paths.Checkpoints, "student-moe")))
            Assert.Equal(TorchSharp.torch.ScalarType.Float32, moe.DType); // the default placement upcasts
        var results = EvaluationStage.ReadResults(Path.Combine(paths.Root, "eval"));
        Assert.Equal(["teacher", "sft", "dense", "moe", "preference", "mod"], results.Select(r => r.Model));
        // The tiny teacher learns in bfloat16 too: its validation loss ends below the uniform guess's ln(vocab).
        var teacherRun = entries.Single(e => e.Stage == "teacher" && e.Status == RunLedgerStatus.Completed);
        var vocab = Checkpoint.ReadConfig(Path.Combine(paths.Checkpoints, "teacher")).Decoder.VocabSize;
        Assert.True(teacherRun.Figures!["val_loss_final"] < Math.Log(vocab) - 0.1,
            $"teacher val loss {teacherRun.Figures["val_loss_final"]} vs ln({vocab}) = {Math.Log(vocab)}");
    }

    [Fact]
    public async Task Runs_every_stage_in_order_writes_ledger_checkpoints_and_report_then_resumes_by_skipping()
    {
        using var dir = new TempDir();
        var (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run"));

        int exit = (await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None)).ExitCode;

        Assert.Equal(0, exit);
        var entries = new RunLedger(paths.Ledger).ReadAll();
        Assert.Equal(
            ["teacher:started", "teacher:completed", "sft:started", "sft:completed", "mimic:started", "mimic:completed",
             "preference:started", "preference:completed", "mod:started", "mod:completed", "eval:started", "eval:completed"],
            entries.Select(e => $"{e.Stage}:{e.Status.ToString().ToLowerInvariant()}"));
        var mimic = entries.Single(e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
        Assert.Equal(mimic.ShardsIssued, mimic.ShardsConsumed);
        Assert.True(mimic.Figures!["d2d_heldout_kl_last"] < mimic.Figures["d2d_heldout_kl_first"]);
        Assert.Equal(Path.Combine(paths.Checkpoints, "student-moe"), mimic.Checkpoint);
        var sft = entries.Single(e => e.Stage == "sft" && e.Status == RunLedgerStatus.Completed);
        Assert.Equal(Path.Combine(paths.Checkpoints, "sft"), sft.Checkpoint);
        Assert.Equal(mimic.Figures["d2s_steps"], sft.Figures!["moe_steps"]);

        var results = EvaluationStage.ReadResults(Path.Combine(paths.Root, "eval"));
        Assert.Equal(["teacher", "sft", "dense", "moe", "preference", "mod"], results.Select(r => r.Model));
        using (var student = Checkpoint.Load(Path.Combine(paths.Checkpoints, "student-moe")))
        {
            Assert.NotNull(student.Config.Text.Moe);
            Assert.Equal(results[3].Parameters, student.ParameterCount());
            Assert.Equal(results[1].Parameters, student.ParameterCount());             // sft: the same architecture
        }
        Assert.False(Directory.Exists(Path.Combine(paths.Checkpoints, "student")));
        var mod = entries.Single(e => e.Stage == "mod" && e.Status == RunLedgerStatus.Completed);
        Assert.Equal(Path.Combine(paths.Checkpoints, "student-mod"), mod.Checkpoint);
        Assert.Equal(1, mod.Figures!["converted.layer0"]);                        // the tiny student's only layer
        Assert.True(File.Exists(Path.Combine(paths.Root, "mod", "plan.json")));
        // mod distils from the mimic stage's cached teacher batches: no teacher inference of its own.
        Assert.Equal((double)mod.ShardsConsumed!, mod.Figures["shards_from_cache"]);
        Assert.Equal(0, mod.Figures["shards_from_teacher"]);
        string report = File.ReadAllText(paths.Report);
        Assert.Contains("| teacher |", report);
        Assert.Contains("| moe |", report);
        Assert.Contains("| sft |", report);
        Assert.All(results, r => Assert.True(r.Speed!.PrefillMs > 0 && r.FlopsPerToken > 0));
        Assert.Contains("](report/accuracy.png)", report);
        Assert.True(File.Exists(Path.Combine(paths.Root, "report", "accuracy.png")));
        Assert.True(File.Exists(Path.Combine(paths.Root, "report", "latency-vs-flops.png")));
        // The final student is exported, loadable, next to its tokenizer.
        var export = Path.Combine(paths.Root, "export");
        using (var exported = Checkpoint.Load(export))
            Assert.Equal(results[5].Parameters, exported.ParameterCount());
        Assert.True(File.Exists(Path.Combine(export, "tokenizer.json")));
        Assert.Contains("Export: export/ in the run directory.", report);

        // A second run on the same directory skips the finished stages and still reports the results.
        File.Delete(paths.Report);
        Assert.Equal(0, (await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None)).ExitCode);
        Assert.Equal(6, new RunLedger(paths.Ledger).ReadAll().Count(e => e.Status == RunLedgerStatus.Skipped));
        Assert.Contains("| moe |", File.ReadAllText(paths.Report));
    }

    [Fact]
    public async Task A_teacher_checkpoint_without_tokenizer_is_refused_before_any_stage_naming_the_file()
    {
        using var dir = new TempDir();
        var (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run"));
        string broken = Path.Combine(dir.Path, "broken-teacher");
        Directory.CreateDirectory(broken);
        var withTeacher = settings with { Teacher = settings.Teacher with { Checkpoint = broken } };

        var error = await Assert.ThrowsAsync<FileNotFoundException>(() =>
            PipelineHost.RunAsync(withTeacher, paths, NullStageProgress.Instance, CancellationToken.None));

        Assert.Contains(Path.Combine(broken, "tokenizer.json"), error.Message);
        Assert.False(File.Exists(paths.Ledger));
    }

    [Fact]
    public async Task A_failing_stage_exits_1_records_the_error_and_runs_no_later_stage()
    {
        using var dir = new TempDir();
        var (settings, paths) = TinyRuns.Create(Path.Combine(dir.Path, "run"));
        // A teacher directory with a tokenizer but no weights: the teacher stage fails, naming the missing file.
        string broken = Path.Combine(dir.Path, "broken-teacher");
        Directory.CreateDirectory(broken);
        Distill.Stages.Text.WordTokenizer.Build(["is there a red circle?"]).Save(Path.Combine(broken, "tokenizer.json"));
        var withTeacher = settings with { Teacher = settings.Teacher with { Checkpoint = broken } };

        var outcome = await PipelineHost.RunAsync(withTeacher, paths, NullStageProgress.Instance, CancellationToken.None);

        Assert.Equal(1, outcome.ExitCode);
        var entries = new RunLedger(paths.Ledger).ReadAll();
        Assert.Equal(["teacher:started", "teacher:failed"], entries.Select(e => $"{e.Stage}:{e.Status.ToString().ToLowerInvariant()}"));
        Assert.Contains("config.json", entries[^1].Error);
        // The outcome carries the stage, the ledger's one-line error and the exception behind it.
        Assert.Equal("teacher", outcome.Failure!.Stage);
        Assert.Equal(entries[^1].Error, outcome.Failure.Error);
        Assert.Contains("config.json", outcome.Failure.Detail!.Text);
        Assert.Contains("   at ", outcome.Failure.Detail.Text);
        Assert.Contains("FAILED in stage teacher", File.ReadAllText(paths.Report));
    }
}
