using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;

namespace Distill.Stages.Sources;

/// <summary>Shards of a distillation stage: the training split cut into shards of <c>shardSize</c> samples
/// (ids 0..), followed by the held-out (validation) split's shards, which the student evaluates but never trains on.
/// A shard's rows are read from the data when it is loaded (a real dataset decodes its images then), never held here.
/// It is also the student's data path (<see cref="ISampleImages"/>): a <c>teacher/v2</c> batch names its samples, and
/// their images are read from the same rows by sample id.</summary>
public sealed class SplitShardSource : IShardSource, ISampleImages
{
    private readonly List<(IReadOnlyList<SampleRow> Rows, int Start, int Count)> _shards = new();
    private readonly int _imageBytes;
    private readonly Lazy<Dictionary<string, (IReadOnlyList<SampleRow> Rows, int Index)>> _byId;
    private readonly string _where;

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
        _where = $"the {trainSplit} and {heldOutSplit} splits of {data.DatasetDir}";
        _byId = new Lazy<Dictionary<string, (IReadOnlyList<SampleRow>, int)>>(() => Index(data, [trainSplit, heldOutSplit], [train, heldOut]));
    }

    /// <summary>Sample id -> its row, over the splits; the ids come from the question samples, so no image is read.</summary>
    private static Dictionary<string, (IReadOnlyList<SampleRow>, int)> Index(PreparedData data, string[] splits, IReadOnlyList<SampleRow>[] rows)
    {
        var byId = new Dictionary<string, (IReadOnlyList<SampleRow>, int)>(StringComparer.Ordinal);
        for (int s = 0; s < splits.Length; s++)
        {
            var samples = data.Samples(splits[s]);
            for (int i = 0; i < samples.Count; i++)
                if (!byId.TryAdd(samples[i].Id, (rows[s], i)))
                    throw new InvalidDataException($"{data.DatasetDir}: sample id '{samples[i].Id}' appears twice in the {string.Join(" and ", splits)} splits");
        }
        return byId;
    }

    public int ShardCount => _shards.Count;
    public int TrainShards { get; }
    public int TrainSamples { get; }
    public int HeldOutSamples { get; }
    public bool IsHeldOut(int shardId) => shardId >= TrainShards;

    public int ImageBytes => _imageBytes;

    public string Describe => _where;

    public byte[]? Image(string sampleId) => _byId.Value.TryGetValue(sampleId, out var at) ? at.Rows[at.Index].Image : null;

    public byte[] LoadShard(int shardId)
    {
        if (shardId < 0 || shardId >= _shards.Count)
            throw new ArgumentOutOfRangeException(nameof(shardId), shardId, $"shard ids run from 0 to {_shards.Count - 1}");
        var (rows, start, count) = _shards[shardId];
        return SamplesV1.Write(Enumerable.Range(start, count).Select(i => rows[i]).ToList(), _imageBytes);
    }
}
