namespace Distill.Actors;

/// <summary>The pipeline was cancelled (Ctrl-C / SIGTERM) while <see cref="Stage"/> was running; that stage is recorded
/// as failed with <c>cancelled</c> in the ledger and runs again when the run is resumed.</summary>
public sealed class PipelineCancelledException(string stage, CancellationToken token)
    : OperationCanceledException($"The pipeline was cancelled in stage {stage}.", token)
{
    /// <summary>The stage that was running (the supervisor's <c>(pipeline)</c> when none had started).</summary>
    public string Stage { get; } = stage;
}
