using Distill.Stages.Arrow;
using Distill.Stages.Flow;

namespace Distill.Stages.Preference;

/// <summary>Shards of the preference stage: the training candidates cut into shards of <c>shardSize</c> rows
/// (ids 0..), then the held-out candidates' shards, which the student evaluates but never trains on. Each shard is a
/// <c>candidates/v1</c> batch; the teacher turns it into <c>preference/v1</c>. <see cref="Figures"/> describe how
/// the candidates were collected (mining counts), for the stage outcome.</summary>
public sealed class CandidateShardSource : IShardSource
{
    private readonly List<IReadOnlyList<CandidateRow>> _shards = new();
    private readonly CandidateBatchMeta _meta;
    private readonly int _imageBytes;

    public CandidateShardSource(IReadOnlyList<CandidateRow> train, IReadOnlyList<CandidateRow> heldOut, int shardSize,
        CandidateBatchMeta meta, int imageBytes, IReadOnlyDictionary<string, double>? figures = null)
    {
        if (shardSize <= 0) throw new ArgumentOutOfRangeException(nameof(shardSize), shardSize, "shard size must be positive");
        _meta = meta;
        _imageBytes = imageBytes;
        _shards.AddRange(train.Chunk(shardSize));
        TrainShards = _shards.Count;
        _shards.AddRange(heldOut.Chunk(shardSize));
        TrainPairs = train.Count;
        HeldOutPairs = heldOut.Count;
        Figures = figures ?? new Dictionary<string, double>();
    }

    public int ShardCount => _shards.Count;
    public int TrainShards { get; }
    public int TrainPairs { get; }
    public int HeldOutPairs { get; }
    public IReadOnlyDictionary<string, double> Figures { get; }
    public bool IsHeldOut(int shardId) => shardId >= TrainShards;

    public byte[] LoadShard(int shardId)
    {
        if (shardId < 0 || shardId >= _shards.Count)
            throw new ArgumentOutOfRangeException(nameof(shardId), shardId, $"shard ids run from 0 to {_shards.Count - 1}");
        return CandidatesV1.Write(_shards[shardId], _meta, _imageBytes);
    }
}
