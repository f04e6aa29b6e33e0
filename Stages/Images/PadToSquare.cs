namespace Distill.Stages.Images;

/// <summary>LLaVA's <c>pad</c> aspect mode (its <c>expand2square</c>): a non-square image is centred on a square of
/// the processor's mean colour, each channel <c>int(mean * 255)</c> (rounded down), the offset rounded down; run
/// before the processor, so a crop then loses nothing.</summary>
public static class PadToSquare
{
    /// <summary>[H,W,3] -> [S,S,3], S = max(H, W); a square image is returned as it is.</summary>
    public static RgbImage Apply(RgbImage image, IReadOnlyList<double> mean)
    {
        if (image.Width == image.Height) return image;
        int side = Math.Max(image.Width, image.Height);
        var fill = new byte[3];
        for (int c = 0; c < 3; c++) fill[c] = (byte)Math.Clamp((int)(mean[c] * 255), 0, 255);
        var dst = new byte[side * side * 3];
        for (int p = 0; p < dst.Length; p += 3) fill.CopyTo(dst, p);
        int top = (side - image.Height) / 2, left = (side - image.Width) / 2, row = image.Width * 3;
        for (int y = 0; y < image.Height; y++)
            Array.Copy(image.Pixels, y * row, dst, ((top + y) * side + left) * 3, row);
        return new RgbImage(side, side, dst);
    }
}
