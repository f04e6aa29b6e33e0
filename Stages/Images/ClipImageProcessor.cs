namespace Distill.Stages.Images;

/// <summary>transformers' <c>CLIPImageProcessor</c> (also LLaVA-1.5's): resize (shortest edge, aspect kept, or a fixed
/// size) with PIL's resampling, center crop, rescale, normalise; each step only if its <c>do_*</c> flag is set.</summary>
public sealed class ClipImageProcessor : IImageProcessor
{
    public ClipImageProcessor(ImageProcessorConfig config)
    {
        if (config.Kind != ImageProcessorKind.Clip) throw new ArgumentException($"{config.Source}: not a CLIP processor config", nameof(config));
        Config = config;
    }

    public ImageProcessorConfig Config { get; }

    public RgbImage Resize(RgbImage image)
    {
        var c = Config;
        if (c.DoResize)
        {
            var (h, w) = c.Size.For(image.Height, image.Width);
            image = PilResampler.Resize(image, w, h, c.Resample);
        }
        if (c.DoCenterCrop) image = CenterCrop.Apply(image, c.CropHeight, c.CropWidth);
        return image;
    }
}
