using System.Collections.Concurrent;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Text;

namespace Distill.Stages.Workspace;

/// <summary>A written Shapes dataset with its tokenizer: the samples of each split, and their <c>samples/v1</c>
/// rows (image decoded, chat template applied), encoded once on first use. Thread-safe.</summary>
public sealed class PreparedData
{
    private readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<ShapesSample>>> _samples = new();
    private readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<SampleRow>>> _rows = new();

    public PreparedData(string datasetDir, WordTokenizer tokenizer, int imageSize, int imageTokens)
    {
        DatasetDir = datasetDir;
        Tokenizer = tokenizer;
        ImageSize = imageSize;
        ImageTokens = imageTokens;
    }

    public string DatasetDir { get; }
    public WordTokenizer Tokenizer { get; }
    public int ImageSize { get; }
    public int ImageTokens { get; }
    public int ImageBytes => ImageSize * ImageSize * 3;

    public IReadOnlyList<ShapesSample> Samples(string split) =>
        _samples.GetOrAdd(split, s => new Lazy<IReadOnlyList<ShapesSample>>(() => ShapesDataset.ReadSplit(DatasetDir, s))).Value;

    public IReadOnlyList<SampleRow> Rows(string split) =>
        _rows.GetOrAdd(split, s => new Lazy<IReadOnlyList<SampleRow>>(() =>
            Samples(s).Select(x => SampleEncoder.Encode(x, Tokenizer, DatasetDir, ImageSize, ImageTokens)).ToList())).Value;
}
