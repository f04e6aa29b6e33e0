namespace Distill.Stages.Cache;

/// <summary>How a distillation stage uses the teacher-output cache (<c>distill.cache.mode</c>).</summary>
public enum CacheMode
{
    /// <summary>No cache: every shard goes to the teacher, nothing is written.</summary>
    Off,

    /// <summary>Complete, verified parts are used instead of the teacher; the teacher runs only for the missing
    /// shards, and each of its batches is written once (the default; an interrupted stage resumes this way).</summary>
    Reuse,

    /// <summary>Existing parts are discarded; the teacher runs for every shard and the cache is written anew.</summary>
    Write,

    /// <summary>Every shard comes from the cache; no teacher is created. A missing or bad part fails the stage.</summary>
    Replay,
}

/// <summary>The HOCON names of <see cref="CacheMode"/>.</summary>
public static class CacheModes
{
    public static readonly IReadOnlyList<string> Names = ["off", "reuse", "write", "replay"];

    public static CacheMode Parse(string name) => name switch
    {
        "off" => CacheMode.Off,
        "reuse" => CacheMode.Reuse,
        "write" => CacheMode.Write,
        "replay" => CacheMode.Replay,
        _ => throw new ArgumentException($"unknown cache mode '{name}'; allowed: {string.Join(", ", Names)}", nameof(name)),
    };

    public static string Name(this CacheMode mode) => mode switch
    {
        CacheMode.Off => "off",
        CacheMode.Reuse => "reuse",
        CacheMode.Write => "write",
        CacheMode.Replay => "replay",
        _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
    };

    /// <summary>True when complete parts are delivered instead of running the teacher.</summary>
    public static bool Reads(this CacheMode mode) => mode is CacheMode.Reuse or CacheMode.Replay;

    /// <summary>True when teacher batches are written to the cache.</summary>
    public static bool Writes(this CacheMode mode) => mode is CacheMode.Reuse or CacheMode.Write;
}
