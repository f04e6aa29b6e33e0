namespace Distill.Stages.Images;

/// <summary>How a non-square image meets the processor: as it is (<see cref="Keep"/>, the processor's own resize and
/// crop decide), or padded to a square first (<see cref="Pad"/>, LLaVA's <c>image_aspect_ratio: pad</c>).</summary>
public enum ImageAspectMode
{
    Keep,
    Pad,
}

/// <summary>One image file to a vision tower's input: decode (<see cref="ImageDecoder"/>), optionally
/// <see cref="PadToSquare"/> with the processor's mean, then the processor. Thread-safe: it holds no state.</summary>
public sealed class ImageLoader(IImageProcessor processor, ImageAspectMode aspect)
{
    public IImageProcessor Processor { get; } = processor;
    public ImageAspectMode Aspect { get; } = aspect;

    /// <summary>The file's [3,H,W] pixels; an unusable file throws <see cref="ImageDecodeException"/>.</summary>
    public ImagePixels Load(string path) => Processor.Normalize(LoadResized(path));

    /// <summary>The file as the tower sees it before rescale and normalisation: decoded, padded, resized and cropped.</summary>
    public RgbImage LoadResized(string path) => Resize(ImageDecoder.Decode(path));

    /// <summary>A decoded image's [3,H,W] pixels.</summary>
    public ImagePixels Process(RgbImage image) => Processor.Normalize(Resize(image));

    private RgbImage Resize(RgbImage image)
    {
        if (Aspect == ImageAspectMode.Pad) image = PadToSquare.Apply(image, Processor.Config.Mean);
        return Processor.Resize(image);
    }

    /// <summary>The packed bytes the pipeline's rows carry, in the format of <see cref="ImageProcessorConfig.Format"/>.</summary>
    public byte[] LoadPacked(string path)
    {
        var image = LoadResized(path);
        var size = Processor.Config.Format().Size;
        if (image.Height != size || image.Width != size)
            throw new ImageDecodeException(path, $"processed to {image.Width}x{image.Height}, not the {size}x{size} the tower takes");
        return image.Pixels;
    }

    /// <summary>Parses an aspect mode name: <c>pad</c>, or <c>keep</c> (also LLaVA's <c>square</c>/<c>original</c>,
    /// which add no step). LLaVA-NeXT's <c>anyres</c> is refused: it tiles the image, which this loader does not.</summary>
    public static ImageAspectMode ParseAspect(string name) => name.Trim().ToLowerInvariant() switch
    {
        "pad" => ImageAspectMode.Pad,
        "keep" or "square" or "original" or "" => ImageAspectMode.Keep,
        _ => throw new ArgumentException($"image aspect mode '{name}' is not supported; use 'pad' or 'keep'", nameof(name)),
    };
}
