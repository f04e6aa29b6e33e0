namespace Distill.Stages.Images;

/// <summary>transformers' <c>center_crop</c>: the centred height x width window, offsets rounded down. Where the window
/// is larger than the image, the image is first centred (offset rounded down) on a black canvas of the window's size,
/// and the window is clipped to that canvas, as transformers does: when the image and the window differ by an odd
/// number of pixels, that leaves the output one pixel short of the window (a quirk kept for parity; it cannot happen
/// when the crop is no larger than the resized image, as in every CLIP and LLaVA processor).</summary>
public static class CenterCrop
{
    /// <summary>[H,W,3] -> [height,width,3] (see above for the one case that is a pixel smaller).</summary>
    public static RgbImage Apply(RgbImage image, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (height == image.Height && width == image.Width) return image;
        var (rowFrom, rowTo, padTop) = Window(image.Height, height);
        var (colFrom, colTo, padLeft) = Window(image.Width, width);
        int outH = rowTo - rowFrom, outW = colTo - colFrom;
        var dst = new byte[outH * outW * 3];
        for (int y = 0; y < outH; y++)
        {
            int sy = rowFrom + y - padTop;
            if (sy < 0 || sy >= image.Height) continue;
            for (int x = 0; x < outW; x++)
            {
                int sx = colFrom + x - padLeft;
                if (sx < 0 || sx >= image.Width) continue;
                Array.Copy(image.Pixels, (sy * image.Width + sx) * 3, dst, (y * outW + x) * 3, 3);
            }
        }
        return new RgbImage(outW, outH, dst);
    }

    /// <summary>Along one axis: the window [From, To) in canvas coordinates, and where the image starts on the canvas.</summary>
    private static (int From, int To, int Pad) Window(int size, int crop)
    {
        int start = (int)Math.Floor((size - crop) / 2.0);
        if (start >= 0) return (start, start + crop, 0);
        int canvas = Math.Max(size, crop), pad = (canvas - size) / 2;
        return (Math.Max(0, start + pad), Math.Min(canvas, start + pad + crop), pad);
    }
}
