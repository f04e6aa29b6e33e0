namespace Distill.Actors.Messages;

// The stage's teacher-output cache (DESIGN 8): coordinator <-> cache keeper, cache keeper -> trainer (cached
// batches), trainer -> cache keeper (teacher batches to write). Shard ids and bytes only.

/// <summary>Coordinator -> cache keeper: open the stage's cache for <paramref name="ShardCount"/> shards; batches
/// read from it go to <paramref name="Trainer"/>.</summary>
public sealed record OpenCache(int ShardCount, Akka.Actor.IActorRef Trainer);

/// <summary>Cache keeper -> coordinator: the cache in <paramref name="Directory"/> is open; <paramref name="Cached"/>
/// shards have verified parts (empty unless the mode reads); <paramref name="Repairs"/> says what opening found
/// and deleted (bad parts: <paramref name="PartsRemoved"/>, stray files).</summary>
public sealed record CacheOpened(string Directory, IReadOnlyList<int> Cached, IReadOnlyList<string> Repairs, int PartsRemoved)
{
    public IReadOnlyList<int> Cached { get; init; } = MessageValues.Portable(Cached);
    public IReadOnlyList<string> Repairs { get; init; } = MessageValues.Portable(Repairs);
}

/// <summary>Coordinator -> cache keeper: send the shard's cached batch to the trainer.</summary>
public sealed record ReadCachedShard(int ShardId);

/// <summary>Cache keeper -> trainer: a shard's teacher batch, read from the cache and verified.</summary>
public sealed record CachedBatch(int ShardId, byte[] Batch);

/// <summary>Cache keeper -> coordinator: the shard's part failed verification and was not delivered;
/// <paramref name="Removed"/> when it was deleted so the teacher can compute it again.</summary>
public sealed record CachedShardBad(int ShardId, string Error, bool Removed);

/// <summary>Trainer -> cache keeper: the first teacher batch of the shard the trainer took; write it as its part.</summary>
public sealed record WriteCachedShard(int ShardId, byte[] Batch);

/// <summary>Coordinator -> cache keeper: every shard is consumed; check the cache is complete and report.</summary>
public sealed record FinishCache
{
    public static FinishCache Instance { get; } = new();
}

/// <summary>Cache keeper -> coordinator: the stage's cache holds every shard; what this run read, wrote and removed.</summary>
public sealed record CacheFinished(int PartsRead, int PartsWritten, int PartsRemoved);
