using Akka.Actor;

namespace Distill.Actors;

/// <summary>Parallelism, transport and fault limits of a distillation stage, and where its teachers run.</summary>
public sealed record FlowSettings
{
    public static FlowSettings Default { get; } = new();

    /// <summary>Loader actors reading shards from the stage's source.</summary>
    public int Loaders { get; init; } = 2;

    /// <summary>Teacher worker actors, each with its own teacher replica.</summary>
    public int TeacherWorkers { get; init; } = 1;

    /// <summary>Most shards leased to teachers or delivered to the trainer but not yet consumed.</summary>
    public int CreditWindow { get; init; } = 4;

    /// <summary>A lease not answered within this time (counted from the grant, and again from the start of
    /// inference) is taken back and the shard re-leased.</summary>
    public TimeSpan LeaseTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>Times a shard is issued before its failure (teacher error, load error or lost lease) fails the stage.</summary>
    public int MaxShardAttempts { get; init; } = 3;

    /// <summary>Shards a teacher worker asks for at once (one in inference, the others loading meanwhile).</summary>
    public int TeacherPrefetch { get; init; } = 2;

    /// <summary>Most bytes of one Arrow batch in a message: a larger teacher batch is sent in parts of whole rows
    /// (<see cref="Messages.TeacherBatchPart"/>) that the trainer joins. Akka.Remote's frame size is set above it.</summary>
    public long MaxBatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Cluster mode: the <see cref="Cluster.TeacherNodeRegistry"/> on this node. When set, a stage starts no
    /// loaders or teacher workers of its own: it opens itself on every teacher node the registry announces and works
    /// with the loaders and teacher workers they start. Null: everything runs in this ActorSystem.</summary>
    public IActorRef? TeacherNodes { get; init; }

    /// <summary>Cluster mode: how long a stage waits with no teacher worker (at its start, or after every teacher node
    /// left) before it fails.</summary>
    public TimeSpan TeacherWait { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The trainer consumes shards in id order (holding back ones that arrive early), so the student sees
    /// the same sequence whether its batches come from teachers or from the cache: live and replayed runs end with
    /// bit-identical weights on CPU. Off: arrival order (no waiting on a slow shard).</summary>
    public bool StrictOrder { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting; returns this otherwise.</summary>
    public FlowSettings Validate()
    {
        if (Loaders < 1) throw new ArgumentException($"FlowSettings.Loaders must be at least 1 (got {Loaders}).");
        if (TeacherWorkers < 1)
            throw new ArgumentException($"FlowSettings.TeacherWorkers must be at least 1 (got {TeacherWorkers}).");
        if (CreditWindow < 1)
            throw new ArgumentException($"FlowSettings.CreditWindow must be at least 1 (got {CreditWindow}).");
        if (LeaseTimeout <= TimeSpan.Zero)
            throw new ArgumentException($"FlowSettings.LeaseTimeout must be positive (got {LeaseTimeout}).");
        if (MaxShardAttempts < 1)
            throw new ArgumentException($"FlowSettings.MaxShardAttempts must be at least 1 (got {MaxShardAttempts}).");
        if (TeacherPrefetch < 1)
            throw new ArgumentException($"FlowSettings.TeacherPrefetch must be at least 1 (got {TeacherPrefetch}).");
        if (MaxBatchBytes < 1)
            throw new ArgumentException($"FlowSettings.MaxBatchBytes must be at least 1 (got {MaxBatchBytes}).");
        if (TeacherWait <= TimeSpan.Zero)
            throw new ArgumentException($"FlowSettings.TeacherWait must be positive (got {TeacherWait}).");
        return this;
    }
}
