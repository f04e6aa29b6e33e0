namespace Distill.Stages.Cache;

/// <summary>A cache that cannot serve this stage: missing, or made by another teacher, tokenizer, schema, dataset or
/// teacher-side configuration. The message says which and what to do.</summary>
public sealed class CacheMismatchException(string message) : IOException(message);

/// <summary>A cached part that failed verification (<see cref="Path"/> names it). <see cref="Removed"/> when it was
/// deleted from the cache so that the teacher computes it again.</summary>
public sealed class CachePartException(string path, int shard, string problem, bool removed)
    : IOException($"cache part {path} (shard {shard}) is bad: {problem}" + (removed ? "; removed, the teacher computes it again" : ""))
{
    public string Path { get; } = path;
    public int Shard { get; } = shard;
    public string Problem { get; } = problem;
    public bool Removed { get; } = removed;
}
