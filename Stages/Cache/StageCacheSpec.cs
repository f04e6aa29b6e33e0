namespace Distill.Stages.Cache;

/// <summary>Where and how a distillation stage caches its teacher batches: the cache root
/// (<c>distill.cache.dir</c>), the mode, and the key, made when the stage starts (the teacher's fingerprint may
/// depend on what earlier stages wrote).</summary>
public sealed record StageCacheSpec(string Root, CacheMode Mode, Func<CacheKey> Key)
{
    /// <summary>The stage whose cache folder this stage reads and writes; null = the stage's own name. A stage whose
    /// teacher batches are another stage's (mod distils from the mimic batches) shares that stage's parts.</summary>
    public string? Stage { get; init; }
}
