namespace Distill.Actors.Messages;

// The distillation stage's dataflow: coordinator <-> loaders, teacher workers and trainer. Every message carries
// shard ids, attempts and bytes only, so the same protocol can cross nodes (see WireSerializer).

/// <summary>Loader -> coordinator: the shard source is open and has this many shards (ids 0..ShardCount-1).</summary>
public sealed record SourceReady(int ShardCount) : IWireMessage;

/// <summary>Teacher worker -> coordinator: lease me up to <paramref name="Count"/> more shards.</summary>
public sealed record RequestWork(int Count) : IWireMessage;

/// <summary>Coordinator -> loader: load shard <paramref name="ShardId"/> for its lease
/// <paramref name="Attempt"/> and send it to <paramref name="Worker"/>.</summary>
public sealed record LoadShard(int ShardId, int Attempt, Akka.Actor.IActorRef Worker) : IWireMessage;

/// <summary>Loader -> teacher worker: a leased shard as <c>samples/v1</c> Arrow bytes.</summary>
public sealed record ShardLoaded(int ShardId, int Attempt, byte[] SamplesV1) : IWireMessage;

/// <summary>Loader -> teacher worker: the shard could not be loaded (<paramref name="Detail"/>: the exception).</summary>
public sealed record ShardLoadFailed(int ShardId, int Attempt, string Error, ErrorDetail? Detail = null) : IWireMessage;

/// <summary>Teacher worker -> coordinator: inference of the shard begins (the lease clock restarts).</summary>
public sealed record ShardStarted(int ShardId, int Attempt) : IWireMessage;

/// <summary>Teacher worker -> trainer: a shard's <c>teacher/v2</c> Arrow bytes.</summary>
public sealed record TeacherBatch(int ShardId, int Attempt, byte[] Outputs) : IWireMessage;

/// <summary>Teacher worker -> trainer: part <paramref name="Part"/> (0-based) of <paramref name="Parts"/> of a shard's
/// teacher batch that is larger than the transport's batch limit (each part is an Arrow batch of whole rows; the
/// trainer joins them, in part order, into the shard's batch).</summary>
public sealed record TeacherBatchPart(int ShardId, int Attempt, int Part, int Parts, byte[] Bytes) : IWireMessage;

/// <summary>Teacher worker -> coordinator: the shard's teacher batch went to the trainer.</summary>
public sealed record ShardInferred(int ShardId, int Attempt) : IWireMessage;

/// <summary>Teacher worker -> coordinator: loading or inference of the shard failed for this attempt
/// (<paramref name="Detail"/>: the exception, when there was one).</summary>
public sealed record ShardFailed(int ShardId, int Attempt, string Error, ErrorDetail? Detail = null) : IWireMessage;

/// <summary>Trainer -> coordinator: the student consumed the shard (once; duplicates never get here).</summary>
public sealed record ShardConsumed(int ShardId, int Samples, double Loss) : IWireMessage;

/// <summary>Coordinator -> trainer: every shard is consumed; finish the student.</summary>
public sealed record CompleteTraining : IWireMessage
{
    public static CompleteTraining Instance { get; } = new();
}

/// <summary>Trainer -> coordinator: the student finished the stage.</summary>
public sealed record TrainingCompleted(Distill.Stages.Flow.StageOutcome Outcome) : IWireMessage
{
    public Distill.Stages.Flow.StageOutcome Outcome { get; init; } = MessageValues.Portable(Outcome);
}

/// <summary>Any stage actor -> coordinator: a part of the stage failed for good; the stage fails
/// (<paramref name="Detail"/>: the exception, when there was one).</summary>
public sealed record ComponentFailed(string Component, string Error, ErrorDetail? Detail = null) : IWireMessage;

/// <summary>Coordinator's timer: take back expired leases.</summary>
public sealed record CheckLeases : IWireMessage
{
    public static CheckLeases Instance { get; } = new();
}
