using SkiaSharp;

namespace Distill.Stages.Data;

/// <summary>Reads a written Shapes dataset.</summary>
public static class ShapesDataset
{
    public static IReadOnlyList<QuestionSample> ReadSplit(string datasetDir, string split) =>
        LlavaSampleParser.ParseFile(Path.Combine(datasetDir, ShapesGenerator.SplitFile(split)));

    /// <summary>Each scene's objects (ground truth for CHAIR and POPE).</summary>
    public static IReadOnlyList<ShapesScene> ReadScenes(string datasetDir, string split)
    {
        string path = Path.Combine(datasetDir, ShapesGenerator.ScenesFile(split));
        var scenes = ShapesJson.Deserialize<List<ShapesScene>>(path);
        for (int i = 0; i < scenes.Count; i++)
        {
            var s = scenes[i];
            if (s is null || string.IsNullOrEmpty(s.Id) || s.Objects is null)
                throw new InvalidDataException($"{path}: scene #{i} lacks an id or objects");
            foreach (var o in s.Objects)
                if (o is null || !ShapesVocabulary.Shapes.Contains(o.Shape) || !ShapesVocabulary.Colours.Contains(o.Colour)
                    || !ShapesVocabulary.Sizes.Contains(o.Size) || o.Row is < 0 or >= ShapesVocabulary.GridSize
                    || o.Col is < 0 or >= ShapesVocabulary.GridSize)
                    throw new InvalidDataException($"{path}: scene '{s.Id}' has an invalid object {o}");
        }
        return scenes;
    }

    /// <summary>The manifest in <paramref name="datasetDir"/>, or null when there is none (nothing written yet, or
    /// a write that did not finish: the manifest is written last). A manifest that exists but cannot be read is an
    /// error naming the file.</summary>
    public static DatasetManifest? TryReadManifest(string datasetDir)
    {
        string path = Path.Combine(datasetDir, DatasetManifest.FileName);
        if (!File.Exists(path)) return null;
        var m = ShapesJson.Deserialize<DatasetManifest>(path);
        if (m.Format != DatasetManifest.FormatVersion)
            throw new InvalidDataException($"{path}: format '{m.Format}' is not {DatasetManifest.FormatVersion}");
        if (string.IsNullOrEmpty(m.Fingerprint) || m.Options is null || m.Splits is null)
            throw new InvalidDataException($"{path}: missing fingerprint, options or splits");
        return m;
    }

    /// <summary>Decodes the sample's PNG to packed RGB (size*size*3, row-major HWC), resizing if needed.</summary>
    public static byte[] LoadRgb(string datasetDir, QuestionSample sample, int size) =>
        LoadRgb(Path.Combine(datasetDir, sample.Image), size, $"sample '{sample.Id}'");

    /// <summary>Decodes an image file to packed RGB (size*size*3, row-major HWC), resizing if needed;
    /// <paramref name="owner"/> names what the image belongs to in errors (e.g. "sample 'x'").</summary>
    public static byte[] LoadRgb(string path, int size, string owner)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), size, "image size must be > 0");
        if (!File.Exists(path)) throw new FileNotFoundException($"Image of {owner} not found: {path}", path);
        using var image = SKImage.FromEncodedData(File.ReadAllBytes(path))
            ?? throw new InvalidDataException($"Image of {owner} cannot be decoded: {path}");
        var info = new SKImageInfo(size, size, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        using var pixmap = bitmap.PeekPixels();
        bool ok = image.Width == size && image.Height == size
            ? image.ReadPixels(pixmap)
            : image.ScalePixels(pixmap, new SKSamplingOptions(SKCubicResampler.Mitchell));
        if (!ok) throw new InvalidDataException($"Image of {owner} could not be converted to {size}x{size} RGB: {path}");
        return Images.ImageDecoder.DropAlpha(bitmap.GetPixelSpan());
    }
}
