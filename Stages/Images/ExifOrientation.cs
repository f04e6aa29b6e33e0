using SkiaSharp;

namespace Distill.Stages.Images;

/// <summary>Applies an EXIF orientation (1-8) to a decoded image so that it shows upright, as
/// <c>PIL.ImageOps.exif_transpose</c> does (and hence transformers' <c>load_image</c>).</summary>
public static class ExifOrientation
{
    /// <summary>The upright image: returns <paramref name="image"/> itself for TopLeft (1).</summary>
    public static RgbImage Apply(RgbImage image, SKEncodedOrigin origin)
    {
        if (origin == SKEncodedOrigin.TopLeft) return image;
        bool swap = origin is SKEncodedOrigin.LeftTop or SKEncodedOrigin.RightTop or SKEncodedOrigin.RightBottom or SKEncodedOrigin.LeftBottom;
        int w = image.Width, h = image.Height;
        int ow = swap ? h : w, oh = swap ? w : h;
        var src = image.Pixels;
        var dst = new byte[src.Length];
        for (int oy = 0; oy < oh; oy++)
        for (int ox = 0; ox < ow; ox++)
        {
            var (sx, sy) = Source(origin, ox, oy, w, h);
            int d = (oy * ow + ox) * 3, s = (sy * w + sx) * 3;
            dst[d] = src[s];
            dst[d + 1] = src[s + 1];
            dst[d + 2] = src[s + 2];
        }
        return new RgbImage(ow, oh, dst);
    }

    /// <summary>The stored pixel (sx, sy) of a w x h stored image that lands at (ox, oy) of the upright one.</summary>
    private static (int X, int Y) Source(SKEncodedOrigin origin, int ox, int oy, int w, int h) => origin switch
    {
        SKEncodedOrigin.TopRight => (w - 1 - ox, oy),               // 2: mirrored left-right
        SKEncodedOrigin.BottomRight => (w - 1 - ox, h - 1 - oy),    // 3: rotated 180
        SKEncodedOrigin.BottomLeft => (ox, h - 1 - oy),             // 4: mirrored top-bottom
        SKEncodedOrigin.LeftTop => (oy, ox),                        // 5: transposed
        SKEncodedOrigin.RightTop => (oy, h - 1 - ox),               // 6: stored rotated 90 counter-clockwise
        SKEncodedOrigin.RightBottom => (w - 1 - oy, h - 1 - ox),    // 7: transversed
        SKEncodedOrigin.LeftBottom => (w - 1 - oy, ox),             // 8: stored rotated 90 clockwise
        _ => throw new ArgumentOutOfRangeException(nameof(origin), origin, "EXIF orientation must be 1-8"),
    };
}
