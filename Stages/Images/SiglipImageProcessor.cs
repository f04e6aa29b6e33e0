namespace Distill.Stages.Images;

/// <summary>transformers' <c>SiglipImageProcessor</c>: resize to a fixed height x width (aspect not kept) with PIL's
/// resampling, rescale, normalise; no crop; each step only if its <c>do_*</c> flag is set.</summary>
public sealed class SiglipImageProcessor : IImageProcessor
{
    public SiglipImageProcessor(ImageProcessorConfig config)
    {
        if (config.Kind != ImageProcessorKind.Siglip) throw new ArgumentException($"{config.Source}: not a SigLIP processor config", nameof(config));
        if (config.Size.ShortestEdge is not null) throw new ArgumentException($"{config.Source}: SigLIP resizes to a height and width, not a shortest edge", nameof(config));
        Config = config;
    }

    public ImageProcessorConfig Config { get; }

    public RgbImage Resize(RgbImage image)
    {
        var c = Config;
        return c.DoResize ? PilResampler.Resize(image, c.Size.Width, c.Size.Height, c.Resample) : image;
    }
}
