namespace Distill.Stages.Images;

/// <summary>A processor's <c>size</c>: the shortest edge to scale to (aspect kept), or a fixed height and width.</summary>
public sealed record ImageSize(int? ShortestEdge, int Height, int Width)
{
    public static ImageSize Shortest(int edge) => new(edge, 0, 0);
    public static ImageSize Fixed(int height, int width) => new(null, height, width);

    /// <summary>The (height, width) an image of <paramref name="height"/> x <paramref name="width"/> is resized to:
    /// transformers' <c>get_resize_output_image_size</c> without <c>max_size</c> (the long side is
    /// <c>int(edge * long / short)</c>, rounded down).</summary>
    public (int Height, int Width) For(int height, int width)
    {
        if (ShortestEdge is not { } edge) return (Height, Width);
        bool portrait = width <= height;
        int shortSide = portrait ? width : height, longSide = portrait ? height : width;
        int newLong = (int)((double)((long)edge * longSide) / shortSide);
        return portrait ? (newLong, edge) : (edge, newLong);
    }

    public override string ToString() => ShortestEdge is { } e ? $"shortest edge {e}" : $"{Height}x{Width}";
}
