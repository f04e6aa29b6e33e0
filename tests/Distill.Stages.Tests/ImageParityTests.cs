using Distill.Stages.Images;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>Distill's decoding and processing against transformers 4.40 (Pillow 9.4) on the images of
/// tests/fixtures/hf-generated/processors. Both are exact: the decoder gives PIL's bytes, and the processors,
/// which resample with PIL's own fixed-point algorithm, give transformers' float32 values bit for bit (measured
/// max abs difference 0 on every case; Skia's own bicubic was up to 1.8 normalised units off, see the README).</summary>
public class ImageParityTests
{
    public static TheoryData<string> DecodedImages() =>
        new(ProcessorFixtures.Tensors.Keys.Where(k => k.StartsWith("decoded/", StringComparison.Ordinal)).Order().Select(k => k["decoded/".Length..]));

    public static TheoryData<string> ProcessorCases() => new(ProcessorFixtures.Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(DecodedImages))]
    public void Image_decodes_to_the_bytes_of_transformers_load_image(string file)
    {
        var (shape, expected) = ProcessorFixtures.Decoded("decoded/" + file);
        var image = ImageDecoder.Decode(ProcessorFixtures.Image(file));
        Assert.Equal((shape[0], shape[1]), (image.Height, image.Width));
        Assert.Equal(expected, image.Pixels);
    }

    [Fact]
    public void Image_16_bit_greyscale_keeps_the_high_byte_of_each_sample()
    {
        // Pillow 9.4 clips 16-bit grey to 255 in convert("RGB"); the fixture holds the file's high bytes instead.
        var (shape, expected) = ProcessorFixtures.Decoded("raw16/gray16-50x40.png");
        var image = ImageDecoder.Decode(ProcessorFixtures.Image("gray16-50x40.png"));
        Assert.Equal((40, 50), (shape[0], shape[1]));
        Assert.Equal(expected, image.Pixels);
        Assert.Equal(0, image.Pixels[0]);
        Assert.Equal(255, image.Pixels[^1]);
    }

    [Fact]
    public void Image_alpha_is_dropped_as_PIL_convert_RGB_drops_it()
    {
        // rgba-160x120.png: the top 10 rows are fully transparent but keep their stored colour; nothing is composited.
        var image = ImageDecoder.Decode(ProcessorFixtures.Image("rgba-160x120.png"));
        var (_, expected) = ProcessorFixtures.Decoded("decoded/rgba-160x120.png");
        Assert.Equal(expected.AsSpan(0, 160 * 10 * 3).ToArray(), image.Pixels.AsSpan(0, 160 * 10 * 3).ToArray());
        Assert.Contains(image.Pixels.Take(160 * 10 * 3), b => b is > 20 and < 235); // neither white nor black
    }

    [Theory]
    [MemberData(nameof(ProcessorCases))]
    public void Image_processor_gives_transformers_pixel_values(string name)
    {
        var c = ProcessorFixtures.Cases.Single(x => x.Name == name);
        var loader = new ImageLoader(ImageProcessors.Load(ProcessorFixtures.Config(c.Config)), c.Pad ? ImageAspectMode.Pad : ImageAspectMode.Keep);
        var pixels = loader.Load(ProcessorFixtures.Image(c.Image));
        Assert.Equal((c.Shape[1], c.Shape[2]), (pixels.Height, pixels.Width));
        var expected = ProcessorFixtures.Pixels(name);
        var worst = Enumerable.Range(0, expected.Length).MaxBy(i => Math.Abs(expected[i] - pixels.Values[i]));
        Assert.True(expected[worst] == pixels.Values[worst],
            $"{name}: value {worst} is {pixels.Values[worst]}, transformers gives {expected[worst]}");
    }

    [Fact]
    public void Image_pixels_batch_into_the_tensor_a_vision_tower_takes()
    {
        var loader = new ImageLoader(ImageProcessors.Load(ProcessorFixtures.Config("siglip-small")), ImageAspectMode.Keep);
        string[] files = ["rgb-640x480.jpg", "palette-128x96.png"];
        var pixels = files.Select(f => loader.Load(ProcessorFixtures.Image(f)).Values).ToList();
        using var batch = Distill.Models.ImageTensors.FromChw(pixels, 48, 48);                 // [2,3,48,48]
        Assert.Equal(new long[] { 2, 3, 48, 48 }, batch.shape);
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, batch.dtype);
        using var second = batch[1];                                                          // [3,48,48]
        Assert.Equal(ProcessorFixtures.Pixels("siglip-small/palette-128x96.png"), second.data<float>().ToArray());
        var e = Assert.Throws<ArgumentException>(() => Distill.Models.ImageTensors.FromChw(pixels, 56, 56));
        Assert.Contains("image 0 has 6912 values, expected 9408 ([3,56,56])", e.Message);
    }
}
