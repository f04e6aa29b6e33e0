namespace Distill.Stages.Images;

/// <summary>The last steps of both processors, in transformers' arithmetic: rescale (<c>float32(v * factor)</c>,
/// the product in double as numpy forms it) and normalise (<c>(x - mean) / std</c> in float32, mean and std rounded
/// to float32 first), then channels first.</summary>
public static class PixelNormalizer
{
    /// <summary>[H,W,3] bytes -> [3,H,W] float32. Without rescale or normalisation the bytes' values pass as they are.</summary>
    public static ImagePixels ToChw(RgbImage image, bool rescale, double factor, bool normalize, IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        int plane = image.Height * image.Width;
        var values = new float[3 * plane];
        var src = image.Pixels;
        for (int c = 0; c < 3; c++)
        {
            // a lookup per channel: the 256 possible results (the arithmetic of Models.ImageFormat, which the pipeline
            // applies to the packed bytes)
            var table = Models.ImageFormat.ChannelTable(rescale ? factor : 1, normalize ? mean[c] : 0, normalize ? std[c] : 1);
            for (int p = 0; p < plane; p++)
                values[c * plane + p] = table[src[p * 3 + c]];
        }
        return new ImagePixels(image.Height, image.Width, values);
    }
}
