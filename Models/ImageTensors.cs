using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>Image preprocessing: packed RGB bytes (H*W*3, row-major HWC) -> normalised float tensors.</summary>
public static class ImageTensors
{
    /// <summary>Returns [B,3,size,size] float32, values (x/255 - 0.5)/0.5.</summary>
    public static Tensor FromRgb(IReadOnlyList<byte[]> images, int size) => throw new NotImplementedException();
}
