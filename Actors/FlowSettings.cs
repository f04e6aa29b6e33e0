namespace Distill.Actors;

/// <summary>Parallelism and fault limits of a distillation stage.</summary>
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
        return this;
    }
}
