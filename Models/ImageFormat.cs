using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>What the pipeline feeds a vision tower: square images of <see cref="Size"/> pixels as packed RGB bytes
/// (H*W*3, row-major HWC), turned into pixel values by the last steps of a Hugging Face image processor: rescale
/// (<c>float32(v * RescaleFactor)</c>, the product in double as numpy forms it) and normalise
/// (<c>(x - mean) / std</c> in float32, mean and std rounded to float32 first), per channel. A processor without
/// <c>do_rescale</c> has factor 1, one without <c>do_normalize</c> mean 0 and std 1: both then pass values exactly.</summary>
public sealed record ImageFormat
{
    private readonly float[][] _table;

    public ImageFormat(int size, double rescaleFactor, IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        if (mean.Count != 3 || std.Count != 3) throw new ArgumentException("mean and std need one value per RGB channel");
        if (std.Any(s => s == 0)) throw new ArgumentException("std must not be 0", nameof(std));
        Size = size;
        RescaleFactor = rescaleFactor;
        Mean = mean.ToArray();
        Std = std.ToArray();
        _table = Enumerable.Range(0, 3).Select(c => ChannelTable(rescaleFactor, Mean[c], Std[c])).ToArray();
    }

    /// <summary>The Shapes models' format: rescale by 1/255, mean = std = 0.5 (pixel values in [-1, 1]).</summary>
    public static ImageFormat Shapes(int size) => new(size, 1 / 255.0, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]);

    public int Size { get; }
    public double RescaleFactor { get; }
    public IReadOnlyList<double> Mean { get; }
    public IReadOnlyList<double> Std { get; }

    /// <summary>Bytes of one packed image.</summary>
    public int Bytes => Size * Size * 3;

    /// <summary>The 256 values a byte of one channel becomes.</summary>
    public static float[] ChannelTable(double rescaleFactor, double mean, double std)
    {
        var table = new float[256];
        float m = (float)mean, s = (float)std;
        for (int v = 0; v < 256; v++) table[v] = ((float)(v * rescaleFactor) - m) / s;
        return table;
    }

    /// <summary>Packed images -> [B,3,Size,Size] float32 pixel values.</summary>
    public Tensor ToPixels(IReadOnlyList<byte[]> images)
    {
        int plane = Size * Size, expected = Bytes;
        var values = new float[images.Count * 3 * plane];
        for (var i = 0; i < images.Count; i++)
        {
            var src = images[i];
            if (src is null || src.Length != expected)
                throw new ArgumentException($"image {i} has {src?.Length ?? 0} bytes, expected {expected} ({Size}x{Size}x3 RGB).");
            int offset = i * 3 * plane;
            for (int c = 0; c < 3; c++)
            {
                var table = _table[c];
                int dst = offset + c * plane;
                for (int p = 0; p < plane; p++) values[dst + p] = table[src[p * 3 + c]];
            }
        }
        return torch.tensor(values, [images.Count, 3, Size, Size]);
    }

    public bool Equals(ImageFormat? other) => other is not null && Size == other.Size && RescaleFactor.Equals(other.RescaleFactor)
        && Mean.SequenceEqual(other.Mean) && Std.SequenceEqual(other.Std);

    public override int GetHashCode() => HashCode.Combine(Size, RescaleFactor, Mean[0], Std[0]);
}
