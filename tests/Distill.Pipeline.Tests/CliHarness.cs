using Distill.Pipeline.Cli;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Tests;

/// <summary>Runs <see cref="DistillCli"/> in-process in a temporary working directory with captured output, a fixed
/// clock, and runners that record what they were given instead of running a pipeline or a cluster node.</summary>
internal sealed class CliHarness : IDisposable
{
    private readonly DateTimeOffset _now;

    public CliHarness(DateTimeOffset? now = null) => _now = now ?? new DateTimeOffset(2025, 2, 3, 4, 5, 6, TimeSpan.Zero);

    public readonly TempDir Dir = new();
    public readonly StringWriter Out = new();
    public readonly StringWriter Err = new();

    /// <summary>What the last runner called (single process or cluster) was given.</summary>
    public DistillSettings? Settings;
    public RunPaths? Paths;
    public bool PipelineCalled, ClusterRunnerCalled;

    /// <summary>The single-process pipeline's stand-in: its exit code (and anything it does with the progress sink).</summary>
    public Func<IStageProgress, CancellationToken, Task<int>> Body = (_, _) => Task.FromResult(0);

    public CliEnvironment Env => new(Out, Err, async (s, p, progress, ct) =>
    {
        PipelineCalled = true;
        Settings = s;
        Paths = p;
        return new RunOutcome(await Body(progress, ct));
    })
    {
        WorkingDirectory = Dir.Path,
        Colour = false,
        ProgressOutput = Out,
        Time = new ManualTime(_now),
        ClusterRunner = (s, p, _, _) =>
        {
            ClusterRunnerCalled = true;
            Settings = s;
            Paths = p;
            return Task.FromResult(RunOutcome.Ok);
        },
    };

    public Task<int> Run(params string[] args) => DistillCli.InvokeAsync(args, Env);

    public void Dispose() => Dir.Dispose();
}
