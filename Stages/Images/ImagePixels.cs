namespace Distill.Stages.Images;

/// <summary>A processed image as a vision tower takes it: float32, channels first ([3,H,W], <c>Values.Length ==
/// 3 * Height * Width</c>), the values transformers' processors put in <c>pixel_values</c>.</summary>
public sealed record ImagePixels
{
    public ImagePixels(int height, int width, float[] values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.Length != 3L * height * width)
            throw new ArgumentException($"{values.Length} values for [3,{height},{width}]", nameof(values));
        Height = height;
        Width = width;
        Values = values;
    }

    public int Height { get; }
    public int Width { get; }

    /// <summary>[3,H,W] float32.</summary>
    public float[] Values { get; }
}
