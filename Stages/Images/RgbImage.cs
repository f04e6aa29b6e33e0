namespace Distill.Stages.Images;

/// <summary>A decoded image: 8-bit RGB, packed row-major HWC ([H,W,3], <c>Pixels.Length == Height * Width * 3</c>).</summary>
public sealed record RgbImage
{
    public RgbImage(int width, int height, byte[] pixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentNullException.ThrowIfNull(pixels);
        if (pixels.Length != (long)width * height * 3)
            throw new ArgumentException($"{pixels.Length} bytes for a {width}x{height} RGB image (expected {(long)width * height * 3})", nameof(pixels));
        Width = width;
        Height = height;
        Pixels = pixels;
    }

    public int Width { get; }
    public int Height { get; }

    /// <summary>[H,W,3] bytes, R G B per pixel.</summary>
    public byte[] Pixels { get; }
}
