namespace Distill.Stages.Images;

/// <summary>A Hugging Face image processor: an upright RGB image in, the vision tower's pixel values out.</summary>
public interface IImageProcessor
{
    ImageProcessorConfig Config { get; }

    /// <summary>The geometric steps (resize, crop): the bytes the tower sees, before rescale and normalisation.</summary>
    RgbImage Resize(RgbImage image);

    /// <summary>[H,W,3] bytes -> [3,H',W'] float32, what transformers' processor returns as <c>pixel_values[0]</c>.</summary>
    ImagePixels Process(RgbImage image) => Normalize(Resize(image));

    /// <summary>The last steps, rescale and normalise (<see cref="PixelNormalizer"/>), of an already resized image.</summary>
    ImagePixels Normalize(RgbImage image)
    {
        var c = Config;
        return PixelNormalizer.ToChw(image, c.DoRescale, c.RescaleFactor, c.DoNormalize, c.Mean, c.Std);
    }
}

/// <summary>Makes the processor a config names.</summary>
public static class ImageProcessors
{
    public static IImageProcessor Create(ImageProcessorConfig config) => config.Kind switch
    {
        ImageProcessorKind.Clip => new ClipImageProcessor(config),
        ImageProcessorKind.Siglip => new SiglipImageProcessor(config),
        _ => throw new ArgumentOutOfRangeException(nameof(config), config.Kind, "unknown processor kind"),
    };

    /// <summary>The processor of a model folder (or a <c>preprocessor_config.json</c> path).</summary>
    public static IImageProcessor Load(string folderOrFile) => Create(ImageProcessorConfig.Load(folderOrFile));
}
