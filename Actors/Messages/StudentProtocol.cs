using Distill.Stages.Flow;

namespace Distill.Actors.Messages;

// Trainer <-> its student host (the child that runs the student's compute on the compute dispatcher).

/// <summary>Trainer -> student host: consume this (not yet seen) shard.</summary>
public sealed record ConsumeShard(int ShardId, byte[] Outputs);

/// <summary>Student host -> trainer: the shard was consumed.</summary>
public sealed record ShardTrained(int ShardId, int Samples, double Loss);

/// <summary>Trainer -> student host: every shard is consumed; call Complete.</summary>
public sealed record CompleteStudent
{
    public static CompleteStudent Instance { get; } = new();
}

/// <summary>Student host -> trainer: Complete returned this outcome.</summary>
public sealed record StudentCompleted(StageOutcome Outcome)
{
    public StageOutcome Outcome { get; init; } = MessageValues.Portable(Outcome);
}

/// <summary>Student host -> trainer: creating, consuming or completing failed (<paramref name="Detail"/>: the
/// exception, when there was one).</summary>
public sealed record StudentFailed(string Error, ErrorDetail? Detail = null);
