using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;

namespace Distill.Stages.Sources;

/// <summary>Shards of a distillation stage: the training split cut into shards of <c>shardSize</c> samples
/// (ids 0..), followed by the held-out (validation) split's shards, which the student evaluates but never trains on.
/// A shard's rows are read from the data when it is loaded (a real dataset decodes its images then), never held here.</summary>
public sealed class SplitShardSource : IShardSource
{
    private readonly List<(IReadOnlyList<SampleRow> Rows, int Start, int Count)> _shards = new();
    private readonly int _imageBytes;

    public SplitShardSource(PreparedData data, string trainSplit, string heldOutSplit, int shardSize)
    {
        if (shardSize <= 0) throw new ArgumentOutOfRangeException(nameof(shardSize), shardSize, "shard size must be positive");
        _imageBytes = data.ImageFormat.Bytes;
        var train = data.Rows(trainSplit);
        var heldOut = data.Rows(heldOutSplit);
        for (int start = 0; start < train.Count; start += shardSize) _shards.Add((train, start, Math.Min(shardSize, train.Count - start)));
        TrainShards = _shards.Count;
        for (int start = 0; start < heldOut.Count; start += shardSize) _shards.Add((heldOut, start, Math.Min(shardSize, heldOut.Count - start)));
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
        var (rows, start, count) = _shards[shardId];
        return SamplesV1.Write(Enumerable.Range(start, count).Select(i => rows[i]).ToList(), _imageBytes);
    }
}
