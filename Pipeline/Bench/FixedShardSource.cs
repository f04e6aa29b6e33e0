using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>A shard source for the scaling benchmark: <see cref="ShardCount"/> shards that are all the same
/// <c>samples/v1</c> batch (loading costs nothing, so the teachers' latency alone paces the flow).</summary>
public sealed class FixedShardSource(byte[] samplesV1, int shardCount) : IShardSource
{
    public int ShardCount { get; } = shardCount;

    public byte[] LoadShard(int shardId)
    {
        if (shardId < 0 || shardId >= ShardCount)
            throw new ArgumentOutOfRangeException(nameof(shardId), shardId, $"shard ids run from 0 to {ShardCount - 1}");
        return samplesV1;
    }
}
