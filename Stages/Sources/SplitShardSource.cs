using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;

namespace Distill.Stages.Sources;

/// <summary>Shards of a distillation stage: the training split cut into shards of <c>shardSize</c> samples
/// (ids 0..), followed by the held-out (validation) split's shards, which the student evaluates but never trains on.</summary>
public sealed class SplitShardSource : IShardSource
{
    private readonly List<IReadOnlyList<SampleRow>> _shards = new();
    private readonly int _imageBytes;

    public SplitShardSource(PreparedData data, string trainSplit, string heldOutSplit, int shardSize)
    {
        if (shardSize <= 0) throw new ArgumentOutOfRangeException(nameof(shardSize), shardSize, "shard size must be positive");
        _imageBytes = data.ImageFormat.Bytes;
        var train = data.Rows(trainSplit);
        var heldOut = data.Rows(heldOutSplit);
        _shards.AddRange(train.Chunk(shardSize));
        TrainShards = _shards.Count;
        _shards.AddRange(heldOut.Chunk(shardSize));
        TrainSamples = train.Count;
        HeldOutSamples = heldOut.Count;
    }

    public int ShardCount => _shards.Count;
    public int TrainShards { get; }
    public int TrainSamples { get; }
    public int HeldOutSamples { get; }
    public bool IsHeldOut(int shardId) => shardId >= TrainShards;

    public byte[] LoadShard(int shardId)
    {
        if (shardId < 0 || shardId >= _shards.Count)
            throw new ArgumentOutOfRangeException(nameof(shardId), shardId, $"shard ids run from 0 to {_shards.Count - 1}");
        return SamplesV1.Write(_shards[shardId], _imageBytes);
    }
}
