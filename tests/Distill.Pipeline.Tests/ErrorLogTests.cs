using System.Runtime.CompilerServices;
using Distill.Pipeline.Cli;
using Distill.Pipeline.Composition;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using TorchSharp;

namespace Distill.Pipeline.Tests;

/// <summary><c>logs/error.log</c> on every way a run can fail, through the CLI and the real composition root (with the
/// test's stages in place of the configured ones where a stage must fail in a particular way): a stage's exception, a
/// native libtorch error in a distillation stage's student step, a start-up failure, Ctrl-C.</summary>
public sealed class ErrorLogTests
{
    /// <summary>The tiny preset on a very small dataset: the data is ready in a second or two.</summary>
    private static readonly string[] Small =
        ["--preset", "tiny", "-D", "distill.data.train-scenes=8", "-D", "distill.data.labelled-images=2", "-D", "distill.data.val-scenes=4", "-D", "distill.data.test-scenes=4"];

    /// <summary>The harness's clock (CliHarness): every header carries this time.</summary>
    private const string HeaderTime = "[2025-02-03T04:05:06.000Z]";

    /// <summary>The real pipeline host (recording the run's paths in the harness), its stages replaced by
    /// <paramref name="stages"/> when there are any.</summary>
    private static CliEnvironment RealHost(CliHarness h, params StageDefinition[] stages) =>
        h.Env with
        {
            Runner = (s, p, progress, ct) =>
            {
                h.Paths = p;
                return PipelineHost.RunAsync(s, p, progress, ct, ActorHosting.SingleProcess,
                    configured => stages.Length > 0 ? stages : configured);
            },
        };

    private static string ErrorLog(CliHarness h) => Path.Combine(h.Paths!.Logs, FailureReport.FileName);

    /// <summary>The header lines of the log's entries.</summary>
    private static IReadOnlyList<string> Headers(string log) =>
        File.ReadAllLines(log).Where(l => l.StartsWith('[')).ToList();

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static StageOutcome LoadTeacherWeights() =>
        throw new InvalidDataException("teacher weights are truncated at byte 4096");

    [Fact]
    public async Task A_failing_stage_writes_its_name_message_and_stack_and_the_console_names_the_file()
    {
        using var h = new CliHarness();
        var env = RealHost(h, new ComputeStage("teacher", (_, _) => LoadTeacherWeights()));
        string[] args = ["run", .. Small, "--run", Path.Combine(h.Dir.Path, "run")];

        Assert.Equal(ExitCodes.RunFailed, await DistillCli.InvokeAsync(args, env));

        var log = ErrorLog(h);
        var text = File.ReadAllText(log);
        Assert.Equal($"{HeaderTime} stage teacher | System.IO.InvalidDataException | teacher weights are truncated at byte 4096",
            Headers(log).Single());
        Assert.Contains("System.IO.InvalidDataException: teacher weights are truncated at byte 4096", text);
        Assert.Contains($"at {typeof(ErrorLogTests).FullName}.{nameof(LoadTeacherWeights)}()", text); // the throwing frame
        Assert.Contains("distill: run failed in stage teacher: teacher weights are truncated at byte 4096", h.Err.ToString());
        Assert.Contains($"  details: {log}", h.Err.ToString());
        // The ledger keeps the one-line message.
        var failed = new RunLedger(h.Paths!.Ledger).ReadAll()[^1];
        Assert.Equal((RunLedgerStatus.Failed, "teacher weights are truncated at byte 4096"), (failed.Status, failed.Error));

        // Resumed, it fails again: the second entry is appended after the first, which stays as it was.
        Assert.Equal(ExitCodes.RunFailed, await DistillCli.InvokeAsync(args, env));
        Assert.Equal(2, Headers(log).Count);
        Assert.StartsWith(text, File.ReadAllText(log));
    }

    /// <summary>One shard for the stage's single teacher worker.</summary>
    private sealed class OneShard : IShardSource
    {
        public int ShardCount => 1;
        public byte[] LoadShard(int shardId) => [1, 2, 3];
    }

    private sealed class EchoTeacher : ITeacherStep
    {
        public byte[] Infer(byte[] samplesV1) => samplesV1;
        public void Dispose() { }
    }

    /// <summary>A student step that makes libtorch fail: a matrix product of shapes that do not fit. (mm, not matmul:
    /// TorchSharp 0.107's matmul does not catch libtorch's C++ exception, which then aborts the process.)</summary>
    private sealed class MismatchedStudent : IStudentStep
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public StepReport Consume(int shardId, byte[] teacherBatch)
        {
            using var a = torch.ones(2, 3);
            using var b = torch.ones(4, 5);
            using var product = a.mm(b);
            return new StepReport(shardId, 1, product.sum().item<float>());
        }

        public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) => StageOutcome.Empty;
        public void Dispose() { }
    }

    [Fact]
    public async Task A_native_libtorch_error_in_a_student_step_is_logged_with_libtorchs_text_and_the_step()
    {
        using var h = new CliHarness();
        var env = RealHost(h, new DistillStage("mod", () => new OneShard(), () => new EchoTeacher(), () => new MismatchedStudent()));

        Assert.Equal(ExitCodes.RunFailed, await DistillCli.InvokeAsync(["run", .. Small, "-D", "distill.stages=[teacher]"], env));

        var log = ErrorLog(h);
        var text = File.ReadAllText(log);
        var header = Headers(log).Single();
        Assert.StartsWith($"{HeaderTime} stage mod | System.Runtime.InteropServices.ExternalException | " +
                          "student: consuming shard 0 failed: libtorch: ", header);
        Assert.Contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)", header); // libtorch's own words
        Assert.Contains("System.Runtime.InteropServices.ExternalException", text);
        Assert.Contains($"{nameof(MismatchedStudent)}.{nameof(MismatchedStudent.Consume)}", text);  // the student's frame
        Assert.Contains("distill: run failed in stage mod: student: consuming shard 0 failed: libtorch: mat1 and mat2 shapes", h.Err.ToString());
        Assert.Contains($"  details: {log}", h.Err.ToString());
        Assert.Equal(header[(header.LastIndexOf(" | ", StringComparison.Ordinal) + 3)..],
            new RunLedger(h.Paths!.Ledger).ReadAll()[^1].Error);
    }

    [Fact]
    public async Task A_start_up_failure_before_any_stage_names_the_step_it_failed_in()
    {
        using var h = new CliHarness();
        var teacher = FakeTeacher.ConfigOnly(Path.Combine(h.Dir.Path, "teacher-without-tokenizer"));
        var env = RealHost(h);

        var exit = await DistillCli.InvokeAsync(
            ["run", .. Small, "-D", "distill.stages=[eval]", "-D", $"distill.teacher.checkpoint={teacher}"], env);

        Assert.Equal(ExitCodes.RunFailed, exit);
        var log = ErrorLog(h);
        var missing = Path.Combine(teacher, "tokenizer.json");
        Assert.Equal($"{HeaderTime} stage (data preparation) | System.IO.FileNotFoundException | " +
                     $"the teacher checkpoint has no tokenizer: {missing} is missing", Headers(log).Single());
        Assert.Contains("at Distill.Stages.Workspace.DataPreparation.Prepare(", File.ReadAllText(log));
        Assert.Contains($"distill: run failed in stage (data preparation): the teacher checkpoint has no tokenizer: {missing} is missing",
            h.Err.ToString());
        Assert.Contains($"  details: {log}", h.Err.ToString());
        Assert.False(File.Exists(h.Paths!.Ledger)); // no stage started
    }

    [Fact]
    public async Task Ctrl_c_in_a_stage_writes_an_interrupted_entry_naming_the_stage_and_how_to_resume()
    {
        using var h = new CliHarness();
        using var cts = new CancellationTokenSource();
        var env = RealHost(h, new ComputeStage("teacher", (_, token) =>
        {
            cts.Cancel(); // Ctrl-C while the stage runs
            token.WaitHandle.WaitOne(TimeSpan.FromSeconds(30));
            token.ThrowIfCancellationRequested();
            return StageOutcome.Empty;
        }));

        Assert.Equal(ExitCodes.Cancelled, await DistillCli.InvokeAsync(["run", .. Small], env, cts.Token));

        var log = ErrorLog(h);
        var root = h.Paths!.Root;
        Assert.Equal($"{HeaderTime} stage teacher | interrupted | the run was interrupted (Ctrl-C or SIGTERM) in stage teacher",
            Headers(log).Single());
        Assert.Contains($"--run {root}", File.ReadAllText(log));
        Assert.Contains($"./run.sh run --config {h.Paths.ResolvedConfig} --run {root}", File.ReadAllText(log));
        Assert.Contains($"distill: cancelled in stage teacher; finished stages are kept in {root} (run again with --run {root} to resume)",
            h.Err.ToString());
        Assert.Contains($"  details: {log}", h.Err.ToString());
    }
}
