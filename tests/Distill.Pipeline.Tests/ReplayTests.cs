using Distill.Models.Checkpoints;
using Distill.Pipeline.Cli;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Tests;

/// <summary>A live run writes the teacher-output cache; <c>distill replay</c> trains the students again from it with
/// no teacher, and with strict ordering ends with the same weights bit for bit.</summary>
public class ReplayTests
{
    private static readonly string[] Small =
    [
        "-D", "distill.data.train-scenes=24", "-D", "distill.data.val-scenes=8", "-D", "distill.data.test-scenes=8",
    ];

    private sealed class Cli(string workingDirectory)
    {
        public StringWriter Out = new();
        public StringWriter Err = new();

        public Task<int> Run(params string[] args)
        {
            Out = new StringWriter();
            Err = new StringWriter();
            var env = new CliEnvironment(Out, Err, PipelineHost.RunAsync)
            {
                WorkingDirectory = workingDirectory,
                Colour = false,
                ProgressOutput = TextWriter.Null,
            };
            return DistillCli.InvokeAsync(args, env);
        }
    }

    private static void AssertSameWeights(string expectedDir, string actualDir)
    {
        var expected = SafeTensors.Read(Path.Combine(expectedDir, Checkpoint.WeightsFile));
        var actual = SafeTensors.Read(Path.Combine(actualDir, Checkpoint.WeightsFile));
        try
        {
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (name, tensor) in expected)
            {
                Assert.Equal(tensor.shape, actual[name].shape);
                Assert.True(tensor.bytes.SequenceEqual(actual[name].bytes), $"{actualDir}: tensor {name} differs from the live run's");
            }
        }
        finally
        {
            foreach (var t in expected.Values.Concat(actual.Values)) t.Dispose();
        }
    }

    [Fact]
    public async Task A_replayed_student_matches_the_live_one_bit_for_bit_and_another_teacher_side_config_is_refused()
    {
        using var dir = new TempDir();
        var cli = new Cli(dir.Path);
        var live = Path.Combine(dir.Path, "live");

        Assert.Equal(0, await cli.Run(["run", "--preset", "tiny", "--run", live, .. Small,
            "-D", "distill.stages=[teacher, mimic]", "-D", "distill.cache.strict-order=on"]));
        var liveMimic = new RunLedger(Path.Combine(live, "ledger.jsonl")).ReadAll().Single(e => e is { Stage: "mimic", Status: RunLedgerStatus.Completed });
        Assert.Equal(liveMimic.ShardsConsumed, (int)liveMimic.Figures!["shards_from_teacher"]);
        Assert.Equal(liveMimic.ShardsConsumed, (int)liveMimic.Figures["cache_parts_written"]);

        Assert.Equal(0, await cli.Run("cache", "verify", "--run", live));
        Assert.Equal(0, await cli.Run("cache", "ls", "--run", live));
        Assert.Contains($"{liveMimic.ShardsConsumed}/{liveMimic.ShardsConsumed}", cli.Out.ToString());

        var replay = Path.Combine(dir.Path, "replay");
        Assert.Equal(0, await cli.Run("replay", "--run", live, "--into", replay));

        var entries = new RunLedger(Path.Combine(replay, "ledger.jsonl")).ReadAll();
        var teacher = entries.Single(e => e is { Stage: "teacher", Status: RunLedgerStatus.Completed });
        Assert.Equal(1, teacher.Figures!["reused"]); // the copied teacher: found by fingerprint, nothing trained or loaded
        var mimic = entries.Single(e => e is { Stage: "mimic", Status: RunLedgerStatus.Completed });
        Assert.Equal((0, liveMimic.ShardsConsumed), (mimic.ShardsIssued, mimic.ShardsConsumed)); // no lease to any teacher
        Assert.Equal(liveMimic.ShardsConsumed, (int)mimic.Figures!["shards_from_cache"]);
        Assert.Equal(0, mimic.Figures["shards_from_teacher"]);
        Assert.DoesNotContain(entries, e => e.Stage == "eval");
        Assert.Contains("mode = replay  # -D distill.cache.mode=replay", File.ReadAllText(Path.Combine(replay, "config.resolved.conf")));

        var students = Directory.EnumerateDirectories(Path.Combine(live, "checkpoints")).Select(Path.GetFileName)
            .Where(n => n != "teacher").ToList();
        Assert.NotEmpty(students);
        foreach (var student in students)
            AssertSameWeights(Path.Combine(live, "checkpoints", student!), Path.Combine(replay, "checkpoints", student!));

        // Other teacher-side settings (top-k) key another cache: replay finds none and says which keys exist.
        var refused = Path.Combine(dir.Path, "refused");
        Assert.Equal(1, await cli.Run("replay", "--run", live, "--into", refused, "-D", "distill.teacher.top-k=4"));
        var failed = new RunLedger(Path.Combine(refused, "ledger.jsonl")).ReadAll()[^1];
        Assert.Equal(("mimic", RunLedgerStatus.Failed), (failed.Stage, failed.Status));
        Assert.Contains("no teacher-output cache of stage 'mimic'", failed.Error);
        Assert.Contains("another teacher or key: refused", failed.Error);
    }

    [Fact]
    public async Task Replay_refuses_a_run_without_a_cache_and_its_own_directory()
    {
        using var dir = new TempDir();
        var cli = new Cli(dir.Path);
        var run = Path.Combine(dir.Path, "r");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "config.resolved.conf"), "distill { cache { dir = \"\" } }");

        Assert.Equal(2, await cli.Run("replay", "--run", run));
        Assert.Contains("has no teacher-output cache", cli.Err.ToString());
        Assert.Equal(2, await cli.Run("replay", "--run", run, "--into", run));
        Assert.Contains("--into must differ from --run", cli.Err.ToString());
        Assert.Equal(2, await cli.Run("replay", "--run", Path.Combine(dir.Path, "none")));
        Assert.Contains("is not a run directory", cli.Err.ToString());
    }
}
