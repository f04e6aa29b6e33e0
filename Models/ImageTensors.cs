using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>Image preprocessing: packed RGB bytes (H*W*3, row-major HWC) -> normalised float tensors.</summary>
public static class ImageTensors
{
    /// <summary>Returns [B,3,size,size] float32, values (x/255 - 0.5)/0.5.</summary>
    public static Tensor FromRgb(IReadOnlyList<byte[]> images, int size)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(size);
        var expected = size * size * 3;
        var packed = new byte[images.Count * expected];
        for (var i = 0; i < images.Count; i++)
        {
            if (images[i] is null || images[i].Length != expected)
                throw new ArgumentException(
                    $"image {i} has {images[i]?.Length ?? 0} bytes, expected {expected} ({size}x{size}x3 RGB).");
            Buffer.BlockCopy(images[i], 0, packed, i * expected, expected);
        }
        using var scope = torch.NewDisposeScope();
        var hwc = torch.tensor(packed, [images.Count, size, size, 3]);   // [B,S,S,3] uint8
        var chw = hwc.permute(0, 3, 1, 2).to_type(ScalarType.Float32);  // [B,3,S,S]
        return chw.div(Scalars.Of(255.0)).sub(Scalars.Of(0.5)).div(Scalars.Of(0.5)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Processed images, each [3,height,width] float32 channels first (as an image processor gives them),
    /// -> one [B,3,height,width] float32 tensor.</summary>
    public static Tensor FromChw(IReadOnlyList<float[]> images, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        var expected = 3 * height * width;
        var packed = new float[images.Count * expected];
        for (var i = 0; i < images.Count; i++)
        {
            if (images[i] is null || images[i].Length != expected)
                throw new ArgumentException(
                    $"image {i} has {images[i]?.Length ?? 0} values, expected {expected} ([3,{height},{width}]).");
            Array.Copy(images[i], 0, packed, i * expected, expected);
        }
        return torch.tensor(packed, [images.Count, 3, height, width]);
    }
}
