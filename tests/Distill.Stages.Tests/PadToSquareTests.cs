using Distill.Stages.Images;
using Xunit;

namespace Distill.Stages.Tests;

public class PadToSquareTests
{
    [Fact]
    public void Image_pad_fills_with_the_mean_colour_rounded_down_and_centres_with_offset_rounded_down()
    {
        // 3 wide, 2 high: one fill row above (offset (3-2)/2 = 0) ... the image starts at row 0, the fill row is below
        var image = new RgbImage(3, 2, Enumerable.Range(1, 18).Select(i => (byte)i).ToArray());
        var square = PadToSquare.Apply(image, ImageProcessorConfig.ClipMean);
        Assert.Equal((3, 3), (square.Width, square.Height));
        Assert.Equal(image.Pixels, square.Pixels[..18]);
        // int(0.48145466 * 255) = 122, int(0.4578275 * 255) = 116, int(0.40821073 * 255) = 104
        Assert.Equal(new byte[] { 122, 116, 104, 122, 116, 104, 122, 116, 104 }, square.Pixels[18..]);
    }

    [Fact]
    public void Image_pad_of_a_tall_image_centres_it_horizontally()
    {
        var image = new RgbImage(1, 4, Enumerable.Repeat((byte)9, 12).ToArray());
        var square = PadToSquare.Apply(image, [0.5, 0.5, 0.5]);
        Assert.Equal((4, 4), (square.Width, square.Height));
        // offset (4-1)/2 = 1: column 1 holds the image, columns 0, 2, 3 are int(0.5*255) = 127
        for (int y = 0; y < 4; y++)
            Assert.Equal(new byte[] { 127, 9, 127, 127 }, Enumerable.Range(0, 4).Select(x => square.Pixels[(y * 4 + x) * 3]).ToArray());
    }

    [Fact]
    public void Image_pad_leaves_a_square_image_as_it_is()
    {
        var image = new RgbImage(2, 2, new byte[12]);
        Assert.Same(image, PadToSquare.Apply(image, [0.5, 0.5, 0.5]));
    }
}
