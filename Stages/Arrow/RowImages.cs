namespace Distill.Stages.Arrow;

/// <summary>Images held in memory, from the rows themselves (tests, benches, a student given its rows).</summary>
public sealed class RowImages : ISampleImages
{
    private readonly Dictionary<string, byte[]> _images = new(StringComparer.Ordinal);

    /// <param name="rows">Rows with their images; a sample id given twice must have the same image.</param>
    public RowImages(IEnumerable<SampleRow> rows, int imageBytes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageBytes, 1);
        ImageBytes = imageBytes;
        foreach (var row in rows)
        {
            if (_images.TryGetValue(row.SampleId, out var known) && !known.AsSpan().SequenceEqual(row.Image))
                throw new ArgumentException($"sample '{row.SampleId}' is given twice with different images");
            _images[row.SampleId] = row.Image;
        }
    }

    public int ImageBytes { get; }

    public byte[]? Image(string sampleId) => _images.GetValueOrDefault(sampleId);

    public string Describe => $"{_images.Count} rows in memory";
}
