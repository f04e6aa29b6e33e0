using Distill.Stages.Flow;

namespace Distill.Actors.Messages;

// The supervisor's protocol: what a caller asks of it, what it answers, and what its stage children report.

/// <summary>Asks the supervisor to run its stages in order; it answers the sender with
/// <see cref="PipelineCompleted"/> or <see cref="PipelineFailed"/>.</summary>
public sealed record RunPipeline
{
    public static RunPipeline Instance { get; } = new();
}

/// <summary>Stops the running pipeline: the current stage is cancelled, recorded as failed, and the asker gets
/// <see cref="PipelineFailed"/> with the error <c>cancelled</c>.</summary>
public sealed record CancelPipeline
{
    public static CancelPipeline Instance { get; } = new();
}

/// <summary>How a stage ended in this run: it ran and completed, or it was skipped because the ledger records it
/// as completed (its recorded outcome is reported).</summary>
public enum StageStatus
{
    Completed,
    Skipped,
}

/// <summary>Shard accounting of a distillation stage (all zero for compute stages).</summary>
public sealed record ShardCounts(int Issued, int Reissued, int Consumed)
{
    public static ShardCounts None { get; } = new(0, 0, 0);
}

/// <summary>One stage's result as reported by <see cref="PipelineCompleted"/> and <see cref="PipelineFailed"/>.</summary>
public sealed record StageResult(string Stage, StageStatus Status, StageOutcome Outcome, double WallSeconds, ShardCounts Shards)
{
    public StageOutcome Outcome { get; init; } = MessageValues.Portable(Outcome);
}

/// <summary>Every stage completed (or was skipped); results in stage order.</summary>
public sealed record PipelineCompleted(IReadOnlyList<StageResult> Stages)
{
    public IReadOnlyList<StageResult> Stages { get; init; } = MessageValues.Portable(Stages);
}

/// <summary>The pipeline stopped at <paramref name="Stage"/> with <paramref name="Error"/> (one line, as the ledger
/// records it); <paramref name="Stages"/> holds the results of the stages before it; <paramref name="Detail"/> is the
/// exception behind the failure, when there was one.</summary>
public sealed record PipelineFailed(string Stage, string Error, IReadOnlyList<StageResult> Stages, ErrorDetail? Detail = null)
{
    public IReadOnlyList<StageResult> Stages { get; init; } = MessageValues.Portable(Stages);
}

/// <summary>A stage child finished its stage.</summary>
public sealed record StageSucceeded(string Stage, StageOutcome Outcome, ShardCounts Shards)
{
    public StageOutcome Outcome { get; init; } = MessageValues.Portable(Outcome);
}

/// <summary>A stage child failed its stage: <paramref name="Error"/> is one line, <paramref name="Detail"/> the
/// exception behind it when there was one (see <see cref="ErrorDetail"/>).</summary>
public sealed record StageFailed(string Stage, string Error, ShardCounts Shards, ErrorDetail? Detail = null);

/// <summary>Sent by a compute-stage runner to itself: run the stage now (after start-up, so the work happens
/// while processing a message rather than inside actor creation).</summary>
public sealed record RunStage
{
    public static RunStage Instance { get; } = new();
}
