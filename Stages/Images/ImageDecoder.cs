using SkiaSharp;

namespace Distill.Stages.Images;

/// <summary>Decodes an image file to upright 8-bit RGB with SkiaSharp, the way transformers' <c>load_image</c> sees it
/// (PIL's <c>exif_transpose</c>, then <c>convert("RGB")</c>):
/// <list type="bullet">
/// <item>PNG, JPEG (baseline, progressive, greyscale, CMYK), WebP (lossy and lossless), GIF (the first frame only)
/// and BMP; any other format, or a file that is not an image, is refused.</item>
/// <item>The EXIF orientation is applied (<see cref="ExifOrientation"/>).</item>
/// <item>Greyscale and palette images become RGB; 16-bit samples keep their high byte (PIL's reading of 16-bit RGB;
/// for 16-bit greyscale Pillow 9.4's <c>convert("RGB")</c> clips to 255 instead, a PIL defect not copied here).</item>
/// <item>Alpha is dropped, not composited: the stored (unpremultiplied) colour of every pixel is kept, even where it
/// is fully transparent. That is what PIL's <c>convert("RGB")</c> does with RGBA, LA and transparent palettes, so
/// an image reaches the model exactly as it reaches LLaVA's and transformers' processors.</item>
/// <item>Embedded colour profiles are ignored (no colour conversion), as PIL ignores them.</item>
/// </list>
/// Every failure is an <see cref="ImageDecodeException"/> naming the file and the reason.</summary>
public static class ImageDecoder
{
    /// <summary>The encoded formats read; others (ICO, WBMP, HEIF, AVIF, DNG...) are refused even if Skia knows them.</summary>
    public static IReadOnlyList<SKEncodedImageFormat> Supported { get; } =
        [SKEncodedImageFormat.Png, SKEncodedImageFormat.Jpeg, SKEncodedImageFormat.Webp, SKEncodedImageFormat.Gif, SKEncodedImageFormat.Bmp];

    /// <summary>Reads and decodes <paramref name="path"/>.</summary>
    public static RgbImage Decode(string path)
    {
        byte[] bytes;
        try
        {
            if (Directory.Exists(path)) throw new ImageDecodeException(path, "is a directory, not an image file");
            if (!File.Exists(path)) throw new ImageDecodeException(path, "file not found");
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ImageDecodeException(path, $"cannot be read ({e.Message})", e);
        }
        return Decode(bytes, path);
    }

    /// <summary>Decodes encoded bytes; <paramref name="name"/> names them in errors (usually the file path).</summary>
    public static RgbImage Decode(byte[] bytes, string name)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        if (bytes.Length == 0) throw new ImageDecodeException(name, "file is empty");
        using var data = SKData.CreateCopy(bytes);
        // the codec owns the stream (Skia deletes it with the codec, or at once if no codec is made)
        using var codec = SKCodec.Create(new SKMemoryStream(data), out var created)
            ?? throw new ImageDecodeException(name, created == SKCodecResult.IncompleteInput
                ? "truncated: the file ends before the image header does"
                : $"not an image, or a format Distill does not read ({Formats()} are read)");
        if (!Supported.Contains(codec.EncodedFormat))
            throw new ImageDecodeException(name, $"{codec.EncodedFormat} images are not supported ({Formats()} are read)");
        var size = codec.Info;
        if (size.Width <= 0 || size.Height <= 0) throw new ImageDecodeException(name, $"has no pixels ({size.Width}x{size.Height})");
        var rgb = ReadRgb(codec, name);
        return ExifOrientation.Apply(rgb, codec.EncodedOrigin);
    }

    private static RgbImage ReadRgb(SKCodec codec, string name)
    {
        // PNG: 16 bits per channel first, so that a 16-bit file keeps its high byte (PIL's 8-bit value) where an
        // 8-bit decode would round; 8-bit sources arrive as v*257, whose high byte is v. Skia refuses that for some
        // 8-bit PNGs (greyscale): those, and the other formats, decode to 8 bits.
        if (codec.EncodedFormat == SKEncodedImageFormat.Png && TryRead(codec, name, wide: true) is { } rgb16) return rgb16;
        return TryRead(codec, name, wide: false)!;
    }

    /// <summary>null if Skia cannot convert to 16 bits (<paramref name="wide"/> only).</summary>
    private static RgbImage? TryRead(SKCodec codec, string name, bool wide)
    {
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, wide ? SKColorType.Rgba16161616 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        if (bitmap.GetPixels() == IntPtr.Zero) throw new ImageDecodeException(name, $"too large to decode ({info.Width}x{info.Height})");
        var result = codec.GetPixels(info, bitmap.GetPixels(), new SKCodecOptions(0));
        if (wide && result == SKCodecResult.InvalidConversion) return null;
        if (result != SKCodecResult.Success)
            throw new ImageDecodeException(name, result switch
            {
                SKCodecResult.IncompleteInput => "truncated: the image data ends early",
                SKCodecResult.ErrorInInput or SKCodecResult.InvalidInput => $"corrupt or truncated image data ({result})",
                _ => $"cannot be decoded ({result})",
            });
        var pixels = bitmap.GetPixelSpan();
        return new RgbImage(info.Width, info.Height, wide ? HighBytes(pixels) : DropAlpha(pixels));
    }

    /// <summary>RGBA bytes ([H,W,4]) -> RGB ([H,W,3]), the alpha dropped (as PIL's convert("RGB")).</summary>
    internal static byte[] DropAlpha(ReadOnlySpan<byte> rgba)
    {
        var rgb = new byte[rgba.Length / 4 * 3];
        for (int p = 0, q = 0; p < rgba.Length; p += 4, q += 3)
        {
            rgb[q] = rgba[p];
            rgb[q + 1] = rgba[p + 1];
            rgb[q + 2] = rgba[p + 2];
        }
        return rgb;
    }

    /// <summary>RGBA 16-bit little-endian samples ([H,W,4] ushort) -> the high bytes of R, G, B ([H,W,3]).</summary>
    private static byte[] HighBytes(ReadOnlySpan<byte> rgba16)
    {
        var rgb = new byte[rgba16.Length / 8 * 3];
        for (int p = 0, q = 0; p < rgba16.Length; p += 8, q += 3)
        {
            rgb[q] = rgba16[p + 1];
            rgb[q + 1] = rgba16[p + 3];
            rgb[q + 2] = rgba16[p + 5];
        }
        return rgb;
    }

    private static string Formats() => string.Join(", ", Supported.Select(f => f.ToString().ToUpperInvariant()));
}
