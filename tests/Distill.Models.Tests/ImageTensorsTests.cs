using TorchSharp;
using Xunit;

namespace Distill.Models.Tests;

public class ImageTensorsTests
{
    [Fact]
    public void PackedRgbBecomesNormalisedChw()
    {
        // 2x2 image, HWC: pixel (0,0) = (0,255,51), (0,1) = (255,0,0), (1,0) = (0,0,255), (1,1) = (102,102,102).
        var image = new byte[] { 0, 255, 51, 255, 0, 0, 0, 0, 255, 102, 102, 102 };
        using var scope = torch.NewDisposeScope();
        var t = ImageTensors.FromRgb(new[] { image, image }, ImageFormat.Shapes(2));
        Assert.Equal(new long[] { 2, 3, 2, 2 }, t.shape);
        Assert.Equal(torch.ScalarType.Float32, t.dtype);
        var red = t[1, 0].data<float>().ToArray();     // channel R of image 1: 0, 255, 0, 102
        Assert.Equal(new[] { -1f, 1f, -1f, -0.2f }, red.Select(x => MathF.Round(x, 5)).ToArray());
        var blue = t[0, 2].data<float>().ToArray();    // 51, 0, 255, 102
        Assert.Equal(new[] { -0.6f, -1f, 1f, -0.2f }, blue.Select(x => MathF.Round(x, 5)).ToArray());
    }

    [Fact]
    public void WrongLengthNamesTheImage()
    {
        var good = new byte[2 * 2 * 3];
        var e = Assert.Throws<ArgumentException>(() => ImageTensors.FromRgb(new[] { good, good, new byte[5] }, ImageFormat.Shapes(2)));
        Assert.Contains("image 2", e.Message);
        Assert.Contains("expected 12", e.Message);
    }
}
