using Distill.Stages.Images;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>Every unusable image file is an <see cref="ImageDecodeException"/> naming the file and the reason.</summary>
public sealed class ImageDecoderBadInputTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    private ImageDecodeException Refused(string name, byte[]? bytes)
    {
        var path = _dir.File(name);
        if (bytes is not null) File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<ImageDecodeException>(() => ImageDecoder.Decode(path));
        Assert.Equal(path, e.ImagePath);
        Assert.StartsWith(path + ": ", e.Message);
        return e;
    }

    private static byte[] Fixture(string name) => File.ReadAllBytes(ProcessorFixtures.Image(name));

    [Fact]
    public void Image_missing_file_is_refused() => Assert.Equal("file not found", Refused("absent.png", null).Reason);

    [Fact]
    public void Image_empty_file_is_refused() => Assert.Equal("file is empty", Refused("empty.jpg", []).Reason);

    [Fact]
    public void Image_directory_is_refused()
    {
        Directory.CreateDirectory(_dir.File("folder.png"));
        Assert.Contains("directory", Refused("folder.png", null).Reason);
    }

    [Theory]
    [InlineData("rgb-640x480.jpg")]
    [InlineData("progressive-300x200.jpg")]
    [InlineData("rgb-167x250.png")]
    [InlineData("lossless-200x150.webp")]
    [InlineData("anim-120x90.gif")]
    [InlineData("rgb-130x70.bmp")]
    public void Image_truncated_to_a_quarter_is_refused(string file)
    {
        var bytes = Fixture(file);
        var reason = Refused("cut-" + file, bytes[..(bytes.Length / 4)]).Reason;
        Assert.Contains("truncated", reason);
    }

    [Fact]
    public void Image_GIF_cut_after_its_first_frame_still_gives_that_frame()
    {
        var bytes = Fixture("anim-120x90.gif");
        var path = _dir.File("half.gif");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]); // the second of the two frames is cut
        Assert.Equal(ProcessorFixtures.Decoded("decoded/anim-120x90.gif").Rgb, ImageDecoder.Decode(path).Pixels);
    }

    [Theory]
    [InlineData("rgb-640x480.jpg", 20)]
    [InlineData("rgb-167x250.png", 30)]
    public void Image_cut_inside_its_header_is_refused(string file, int keep)
    {
        var reason = Refused("head-" + file, Fixture(file)[..keep]).Reason;
        Assert.Contains("truncated", reason);
    }

    [Fact]
    public void Image_with_corrupt_data_is_refused()
    {
        var bytes = Fixture("rgb-167x250.png");
        for (int i = 200; i < 400; i++) bytes[i] ^= 0x5A; // inside the first IDAT chunk
        Refused("corrupt.png", bytes);
    }

    [Fact]
    public void Image_text_file_is_not_an_image()
    {
        var reason = Refused("notes.png", "this is not an image\n"u8.ToArray()).Reason;
        Assert.Contains("not an image", reason);
        Assert.Contains("PNG, JPEG, WEBP, GIF, BMP", reason);
    }

    [Fact]
    public void Image_of_an_unknown_format_is_refused()
    {
        // a little-endian TIFF header: a real image format Distill (and Skia) do not read
        byte[] tiff = [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, .. new byte[64]];
        Assert.Contains("format Distill does not read", Refused("scan.tif", tiff).Reason);
    }

    [Fact]
    public void Image_format_Skia_reads_but_Distill_does_not_is_refused()
    {
        // a 1x1 WBMP (type 0, fixed header 0, width 1, height 1, one white pixel): Skia decodes it, Distill refuses it
        var reason = Refused("dot.wbmp", [0x00, 0x00, 0x01, 0x01, 0x80]).Reason;
        Assert.Contains("Wbmp images are not supported", reason);
    }
}
