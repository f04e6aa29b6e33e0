using System.Text.Json;

namespace Distill.Stages.Images;

/// <summary>The processor types read from <c>preprocessor_config.json</c>.</summary>
public enum ImageProcessorKind
{
    Clip,
    Siglip,
}

/// <summary>A model folder's <c>preprocessor_config.json</c>, with transformers 4.40's defaults for absent keys
/// (CLIP: resize to shortest edge 224, center crop 224, OpenAI's mean and std; SigLIP: 224x224, mean and std 0.5;
/// both: bicubic, rescale 1/255, every <c>do_*</c> true). Keys the processors do not use (<c>processor_class</c>,
/// <c>do_convert_rgb</c>: the decoder always gives RGB) are ignored.</summary>
public sealed record ImageProcessorConfig(
    string Source,
    ImageProcessorKind Kind,
    bool DoResize,
    ImageSize Size,
    ResampleFilter Resample,
    bool DoCenterCrop,
    int CropHeight,
    int CropWidth,
    bool DoRescale,
    double RescaleFactor,
    bool DoNormalize,
    IReadOnlyList<double> Mean,
    IReadOnlyList<double> Std)
{
    public const string FileName = "preprocessor_config.json";

    /// <summary>Accepted values of <c>image_processor_type</c> (or the older <c>feature_extractor_type</c>).</summary>
    public static IReadOnlyDictionary<string, ImageProcessorKind> Types { get; } = new Dictionary<string, ImageProcessorKind>
    {
        ["CLIPImageProcessor"] = ImageProcessorKind.Clip,
        ["CLIPFeatureExtractor"] = ImageProcessorKind.Clip,
        ["SiglipImageProcessor"] = ImageProcessorKind.Siglip,
    };

    public static readonly double[] ClipMean = [0.48145466, 0.4578275, 0.40821073];
    public static readonly double[] ClipStd = [0.26862954, 0.26130258, 0.27577711];

    /// <summary>The square images this processor gives as the pipeline's <see cref="Models.ImageFormat"/>; a
    /// processor whose output is not one square size (no crop after a shortest-edge resize, a non-square size) is
    /// refused, naming the file.</summary>
    public Models.ImageFormat Format()
    {
        var (h, w) = Kind == ImageProcessorKind.Clip && DoCenterCrop ? (CropHeight, CropWidth)
            : Size.ShortestEdge is null && DoResize ? (Size.Height, Size.Width)
            : throw new InvalidDataException($"{Source}: the processor gives images of varying size (no center crop after a shortest-edge resize); the pipeline needs one square size");
        if (h != w) throw new InvalidDataException($"{Source}: the processor gives {w}x{h} images; the pipeline needs square ones");
        return new Models.ImageFormat(h, DoRescale ? RescaleFactor : 1, DoNormalize ? Mean : [0, 0, 0], DoNormalize ? Std : [1, 1, 1]);
    }

    /// <summary>Reads a folder's <see cref="FileName"/>, or the file itself if given.</summary>
    public static ImageProcessorConfig Load(string folderOrFile)
    {
        var path = Directory.Exists(folderOrFile) ? Path.Combine(folderOrFile, FileName) : folderOrFile;
        if (!File.Exists(path)) throw new FileNotFoundException($"no {FileName}: {path}", path);
        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses the JSON text; <paramref name="source"/> names it in errors.</summary>
    public static ImageProcessorConfig Parse(string json, string source)
    {
        JsonDocument document;
        try { document = JsonDocument.Parse(json); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e); }
        using (document) return FromJson(document.RootElement, source);
    }

    private static ImageProcessorConfig FromJson(JsonElement root, string source)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{source}: expected a JSON object");
        var read = new ConfigReader(root, source);
        var kind = ReadKind(read);
        bool clip = kind == ImageProcessorKind.Clip;
        var size = read.Size("size", clip ? ImageSize.Shortest(224) : ImageSize.Fixed(224, 224), shortestAllowed: clip);
        var crop = read.Size("crop_size", ImageSize.Fixed(224, 224), shortestAllowed: false);
        return new ImageProcessorConfig(
            source, kind,
            read.Bool("do_resize", true), size, read.Resample("resample"),
            clip && read.Bool("do_center_crop", true), crop.Height, crop.Width,
            read.Bool("do_rescale", true), read.Number("rescale_factor", 1 / 255.0),
            read.Bool("do_normalize", true),
            read.PerChannel("image_mean", clip ? ClipMean : [0.5, 0.5, 0.5]),
            read.PerChannel("image_std", clip ? ClipStd : [0.5, 0.5, 0.5]));
    }

    private static ImageProcessorKind ReadKind(ConfigReader read)
    {
        var key = read.Has("image_processor_type") ? "image_processor_type" : "feature_extractor_type";
        var type = read.String(key) ?? throw new InvalidDataException(
            $"{read.Source}: no 'image_processor_type' (nor 'feature_extractor_type'); supported: {string.Join(", ", Types.Keys)}");
        return Types.TryGetValue(type, out var kind) ? kind : throw new InvalidDataException(
            $"{read.Source}: '{key}' is '{type}', which Distill does not implement; supported: {string.Join(", ", Types.Keys)}");
    }
}
