namespace Distill.Actors.Cluster;

/// <summary>What one teacher node runs for every stage it is opened on, and how it finds its coordinator.</summary>
public sealed record TeacherNodeOptions
{
    /// <summary>Loader actors per stage on this node.</summary>
    public int Loaders { get; init; } = 1;

    /// <summary>Teacher worker actors per stage on this node, each with its own teacher replica.</summary>
    public int TeacherWorkers { get; init; } = 1;

    /// <summary>Shards a teacher worker asks for at once.</summary>
    public int TeacherPrefetch { get; init; } = 2;

    /// <summary>A teacher batch above this many bytes is sent to the trainer in parts.</summary>
    public long MaxBatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Registration with the coordinator is repeated this often until it is answered.</summary>
    public TimeSpan RegisterRetry { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The node gives up when no coordinator answered within this time.</summary>
    public TimeSpan RegisterTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The run directory as this node sees it; null = the path the coordinator announces (same machine or a
    /// file system mounted at the same place).</summary>
    public string? RunDir { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first bad setting; returns this otherwise.</summary>
    public TeacherNodeOptions Validate()
    {
        if (Loaders < 1) throw new ArgumentException($"TeacherNodeOptions.Loaders must be at least 1 (got {Loaders}).");
        if (TeacherWorkers < 1) throw new ArgumentException($"TeacherNodeOptions.TeacherWorkers must be at least 1 (got {TeacherWorkers}).");
        if (TeacherPrefetch < 1) throw new ArgumentException($"TeacherNodeOptions.TeacherPrefetch must be at least 1 (got {TeacherPrefetch}).");
        if (MaxBatchBytes < 1) throw new ArgumentException($"TeacherNodeOptions.MaxBatchBytes must be at least 1 (got {MaxBatchBytes}).");
        if (RegisterRetry <= TimeSpan.Zero) throw new ArgumentException($"TeacherNodeOptions.RegisterRetry must be positive (got {RegisterRetry}).");
        if (RegisterTimeout <= TimeSpan.Zero) throw new ArgumentException($"TeacherNodeOptions.RegisterTimeout must be positive (got {RegisterTimeout}).");
        return this;
    }
}

/// <summary>A teacher node is asked for the distillation stage <paramref name="Stage"/> of the run in
/// <paramref name="RunDir"/> (this node's view of the directory).</summary>
public sealed record StageRequest(string Stage, string RunDir);
