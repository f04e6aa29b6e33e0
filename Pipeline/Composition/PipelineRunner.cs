using Distill.Actors.Messages;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Composition;

/// <summary>The seam between the CLI and the composition root: runs the configured stages in an existing run
/// directory and returns how it ended (<see cref="RunOutcome"/>). <see cref="PipelineHost.RunAsync(DistillSettings, RunPaths, IStageProgress, CancellationToken)"/>
/// is the production one; tests pass their own. Cancellation (Ctrl-C) comes through <c>ct</c>: stop at the next safe
/// point and throw <see cref="OperationCanceledException"/> (or return). An exception before the stages start
/// carries the step it failed in (<see cref="StartupStep"/>).</summary>
public delegate Task<RunOutcome> PipelineRunner(DistillSettings settings, RunPaths paths, IStageProgress progress, CancellationToken ct);

/// <summary>How a run ended: the process exit code (0 = ok) and, when a stage failed, which one, its one-line error
/// and the exception behind it.</summary>
public sealed record RunOutcome(int ExitCode, RunFailure? Failure = null)
{
    public static RunOutcome Ok { get; } = new(0);

    public bool Succeeded => ExitCode == 0;
}

/// <summary>The failed stage (or the supervisor's <c>(pipeline)</c>), its one-line error as the ledger records it, and
/// the exception behind it when there was one.</summary>
public sealed record RunFailure(string Stage, string Error, ErrorDetail? Detail);

/// <summary>Names the step of the composition root's start-up (data preparation, building the stages, starting the
/// actors) or wind-down (the report) that an exception escaped from, without wrapping or changing the exception
/// (<see cref="Exception.Data"/>), so the run's error log can name it.</summary>
public static class StartupStep
{
    private const string Key = "distill.step";

    /// <summary>Records <paramref name="step"/> on <paramref name="e"/> unless an inner step already did; returns false,
    /// so it can sit in an exception filter and let the exception go on unchanged.</summary>
    public static bool Tag(Exception e, string step)
    {
        ArgumentNullException.ThrowIfNull(e);
        try
        {
            if (!e.Data.Contains(Key)) e.Data[Key] = step;
        }
        catch (Exception ex) when (ex is NotSupportedException or ArgumentException)
        {
            // A read-only or picky Data dictionary: the step goes unnamed.
        }
        return false;
    }

    /// <summary>The step <see cref="Tag"/> recorded on <paramref name="e"/>, or null.</summary>
    public static string? Of(Exception e) => e.Data.Contains(Key) ? e.Data[Key] as string : null;
}
