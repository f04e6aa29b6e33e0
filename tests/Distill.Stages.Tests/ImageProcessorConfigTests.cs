using Distill.Stages.Images;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class ImageProcessorConfigTests
{
    private static ImageProcessorConfig Parse(string json) => ImageProcessorConfig.Parse(json, "model/preprocessor_config.json");

    private static string Refused(string json) => Assert.Throws<InvalidDataException>(() => Parse(json)).Message;

    [Fact]
    public void Image_processor_type_unknown_is_refused_naming_file_key_and_supported()
    {
        var m = Refused("""{"image_processor_type": "LlavaNextImageProcessor", "size": {"shortest_edge": 336}}""");
        Assert.Equal("model/preprocessor_config.json: 'image_processor_type' is 'LlavaNextImageProcessor', which Distill does not implement; "
            + "supported: CLIPImageProcessor, CLIPFeatureExtractor, SiglipImageProcessor", m);
    }

    [Fact]
    public void Image_processor_type_missing_is_refused()
    {
        Assert.Contains("no 'image_processor_type'", Refused("""{"size": 224}"""));
        Assert.Contains("'image_processor_type' is 7; expected a string", Refused("""{"image_processor_type": 7}"""));
    }

    [Theory]
    [InlineData("""{"image_processor_type": "CLIPImageProcessor", "resample": 1}""", "'resample' is 1; expected 3 (bicubic) or 2 (bilinear)")]
    [InlineData("""{"image_processor_type": "CLIPImageProcessor", "size": {"longest_edge": 9}}""", "'size' is {\"longest_edge\": 9}")]
    [InlineData("""{"image_processor_type": "CLIPImageProcessor", "crop_size": 0}""", "'crop_size' is 0")]
    [InlineData("""{"image_processor_type": "SiglipImageProcessor", "size": {"shortest_edge": 9}}""", "expected a number or {\"height\": h, \"width\": w}")]
    [InlineData("""{"image_processor_type": "CLIPImageProcessor", "image_mean": [0.5, 0.5]}""", "'image_mean' is [0.5, 0.5]; expected a number or a list of 3 numbers")]
    [InlineData("""{"image_processor_type": "CLIPImageProcessor", "do_normalize": "yes"}""", "'do_normalize' is \"yes\"; expected true or false")]
    [InlineData("""[1, 2]""", "expected a JSON object")]
    [InlineData("""{"image_processor_type": """, "not valid JSON")]
    public void Image_processor_config_bad_value_is_refused_naming_the_key(string json, string expected) =>
        Assert.Contains(expected, Refused(json));

    [Fact]
    public void Image_processor_defaults_are_transformers_defaults()
    {
        var clip = Parse("""{"image_processor_type": "CLIPImageProcessor"}""");
        Assert.Equal(ImageSize.Shortest(224), clip.Size);
        Assert.Equal((true, 224, 224, ResampleFilter.Bicubic), (clip.DoCenterCrop, clip.CropHeight, clip.CropWidth, clip.Resample));
        Assert.Equal(ImageProcessorConfig.ClipMean, clip.Mean);
        Assert.Equal(1 / 255.0, clip.RescaleFactor);
        var siglip = Parse("""{"image_processor_type": "SiglipImageProcessor", "image_mean": 0.25}""");
        Assert.Equal(ImageSize.Fixed(224, 224), siglip.Size);
        Assert.False(siglip.DoCenterCrop);
        Assert.Equal([0.25, 0.25, 0.25], siglip.Mean);
        Assert.Equal([0.5, 0.5, 0.5], siglip.Std);
    }

    [Fact]
    public void Image_processor_legacy_feature_extractor_file_reads_numbers_as_sizes()
    {
        var c = ImageProcessorConfig.Load(ProcessorFixtures.Config("clip-legacy"));
        Assert.Equal(ImageProcessorKind.Clip, c.Kind);
        Assert.Equal(ImageSize.Shortest(40), c.Size);
        Assert.Equal((40, 40), (c.CropHeight, c.CropWidth));
        Assert.IsType<ClipImageProcessor>(ImageProcessors.Create(c));
    }

    [Fact]
    public void Image_processor_folder_without_config_is_refused()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<FileNotFoundException>(() => ImageProcessors.Load(dir.Path));
        Assert.Contains(Path.Combine(dir.Path, "preprocessor_config.json"), e.Message);
    }

    [Theory]
    [InlineData(480, 640, 224, 224, 298)]   // landscape: the long side int(224 * 640 / 480)
    [InlineData(500, 333, 336, 504, 336)]   // portrait: int(336 * 500 / 333) = 504
    [InlineData(12, 20, 24, 24, 40)]
    public void Image_shortest_edge_size_rounds_the_long_side_down(int h, int w, int edge, int eh, int ew) =>
        Assert.Equal((eh, ew), ImageSize.Shortest(edge).For(h, w));
}
