namespace Distill.Stages.Images;

/// <summary>The resampling filters of <c>preprocessor_config.json</c>'s <c>resample</c> (PIL's numbering).</summary>
public enum ResampleFilter
{
    Bilinear = 2,
    Bicubic = 3,
}

/// <summary>Resizes 8-bit RGB the way Pillow's <c>Image.resize</c> does (Pillow 9.4, no <c>reducing_gap</c>), which is
/// what transformers' processors call: separable, horizontal pass first into an 8-bit intermediate, then vertical; the
/// kernel's support widens by the downscale factor (so a downscale averages, not aliases); weights normalised per
/// output pixel and held as 22-bit fixed point, rounded half away from zero; sums start at half a unit and are
/// shifted and clamped to 0..255. Bicubic is Keys' kernel with a = -0.5, bilinear the triangle. Given the same
/// input this gives the same bytes as Pillow.</summary>
public static class PilResampler
{
    private const int PrecisionBits = 32 - 8 - 2;

    /// <summary>[H,W,3] -> [height,width,3].</summary>
    public static RgbImage Resize(RgbImage image, int width, int height, ResampleFilter filter)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (width == image.Width && height == image.Height) return image;
        var horizontal = Weights.For(image.Width, width, filter);
        var vertical = Weights.For(image.Height, height, filter);
        byte[] rows = image.Pixels;
        int rowsFirst = 0, rowsCount = image.Height;
        if (width != image.Width)
        {
            // only the source rows the vertical pass will read
            rowsFirst = vertical.Start[0];
            rowsCount = vertical.Start[height - 1] + vertical.Count[height - 1] - rowsFirst;
            rows = Horizontal(image, rowsFirst, rowsCount, horizontal);
        }
        if (height == image.Height) return new RgbImage(width, height, rows);
        return new RgbImage(width, height, Vertical(rows, width, rowsFirst, vertical));
    }

    /// <summary>Source rows [first, first+count) of [H,W,3] -> [count,outWidth,3].</summary>
    private static byte[] Horizontal(RgbImage image, int first, int count, Weights w)
    {
        int outWidth = w.Start.Length, inWidth = image.Width;
        var src = image.Pixels;
        var dst = new byte[count * outWidth * 3];
        for (int y = 0; y < count; y++)
        {
            int rowIn = (first + y) * inWidth * 3, rowOut = y * outWidth * 3;
            for (int x = 0; x < outWidth; x++)
            {
                int k0 = x * w.Size, s0 = rowIn + w.Start[x] * 3;
                int r = 1 << (PrecisionBits - 1), g = r, b = r;
                for (int k = 0; k < w.Count[x]; k++)
                {
                    int c = w.Fixed[k0 + k], s = s0 + k * 3;
                    r += src[s] * c;
                    g += src[s + 1] * c;
                    b += src[s + 2] * c;
                }
                int d = rowOut + x * 3;
                dst[d] = Clip(r);
                dst[d + 1] = Clip(g);
                dst[d + 2] = Clip(b);
            }
        }
        return dst;
    }

    /// <summary>[rows,W,3] holding source rows from <paramref name="first"/> on -> [outHeight,W,3].</summary>
    private static byte[] Vertical(byte[] src, int width, int first, Weights w)
    {
        int outHeight = w.Start.Length, stride = width * 3;
        var dst = new byte[outHeight * stride];
        for (int y = 0; y < outHeight; y++)
        {
            int k0 = y * w.Size, top = (w.Start[y] - first) * stride;
            for (int i = 0; i < stride; i++)
            {
                int sum = 1 << (PrecisionBits - 1);
                for (int k = 0; k < w.Count[y]; k++)
                    sum += src[top + k * stride + i] * w.Fixed[k0 + k];
                dst[y * stride + i] = Clip(sum);
            }
        }
        return dst;
    }

    private static byte Clip(int sum) => (byte)Math.Clamp(sum >> PrecisionBits, 0, 255);

    /// <summary>Per output pixel: the first source pixel (<see cref="Start"/>), how many are read
    /// (<see cref="Count"/>) and their fixed-point weights (<see cref="Fixed"/>, <see cref="Size"/> per pixel).</summary>
    private sealed record Weights(int[] Start, int[] Count, int[] Fixed, int Size)
    {
        public static Weights For(int inSize, int outSize, ResampleFilter filter)
        {
            double baseSupport = filter == ResampleFilter.Bicubic ? 2.0 : 1.0;
            double scale = (double)inSize / outSize;
            double filterScale = Math.Max(scale, 1.0);
            double support = baseSupport * filterScale;
            int size = (int)Math.Ceiling(support) * 2 + 1;
            var start = new int[outSize];
            var count = new int[outSize];
            var weights = new int[outSize * size];
            var raw = new double[size];
            double inverse = 1.0 / filterScale; // PIL multiplies by the reciprocal (bit-for-bit the same weights)
            for (int o = 0; o < outSize; o++)
            {
                double center = (o + 0.5) * scale;
                int lo = Math.Max((int)(center - support + 0.5), 0);
                int n = Math.Min((int)(center + support + 0.5), inSize) - lo;
                double total = 0;
                for (int k = 0; k < n; k++)
                {
                    raw[k] = Kernel(filter, (k + lo - center + 0.5) * inverse);
                    total += raw[k];
                }
                for (int k = 0; k < n; k++)
                {
                    double v = total != 0 ? raw[k] / total : raw[k];
                    double units = v * (1 << PrecisionBits);
                    weights[o * size + k] = (int)(v < 0 ? units - 0.5 : units + 0.5);
                }
                start[o] = lo;
                count[o] = n;
            }
            return new Weights(start, count, weights, size);
        }

        private static double Kernel(ResampleFilter filter, double x)
        {
            x = Math.Abs(x);
            if (filter == ResampleFilter.Bilinear) return x < 1.0 ? 1.0 - x : 0.0;
            const double a = -0.5;
            if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
            if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
            return 0.0;
        }
    }
}
