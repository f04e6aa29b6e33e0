using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>Images to a vision tower's input tensors.</summary>
public static class ImageTensors
{
    /// <summary>Packed RGB images -> [B,3,S,S] float32 pixel values in <paramref name="format"/>.</summary>
    public static Tensor FromRgb(IReadOnlyList<byte[]> images, ImageFormat format) => format.ToPixels(images);

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
