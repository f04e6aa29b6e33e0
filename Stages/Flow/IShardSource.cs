namespace Distill.Stages.Flow;

/// <summary>Where a distillation stage's input comes from: a fixed list of shards, each a <c>samples/v1</c>
/// Arrow batch. Implementations must be thread-safe: several loader actors call <see cref="LoadShard"/> at once.</summary>
public interface IShardSource
{
    /// <summary>Number of shards; shard ids are 0..ShardCount-1.</summary>
    int ShardCount { get; }

    /// <summary>Loads and encodes one shard as <c>samples/v1</c> Arrow IPC bytes.</summary>
    byte[] LoadShard(int shardId);
}
