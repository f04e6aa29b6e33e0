namespace Distill.Stages.Images;

/// <summary>An image file that cannot be used: missing, empty, truncated, not an image, or a format Distill does not
/// read. The data path catches this type to count and skip the sample; <see cref="ImagePath"/> names the file and
/// <see cref="Reason"/> says why, in words.</summary>
public sealed class ImageDecodeException : Exception
{
    public ImageDecodeException(string imagePath, string reason, Exception? inner = null)
        : base($"{imagePath}: {reason}", inner)
    {
        ImagePath = imagePath;
        Reason = reason;
    }

    public string ImagePath { get; }
    public string Reason { get; }
}
