using Distill.Models;
using Distill.Models.Config;
using Distill.Models.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary><see cref="VisionLanguageModel.Place"/>: the device and dtype of <c>distill.device</c> / <c>distill.dtype</c>.</summary>
public class PlaceTests
{
    private static readonly VlmConfig Config = new(new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" }, new DecoderConfig(20, 16, 32, 1, 2, 1), 4)
    { VisionFeatureLayer = -1 };

    [Fact]
    public void Null_or_the_current_placement_leaves_the_model_and_its_weights_in_place()
    {
        manual_seed(3);
        using var model = new VisionLanguageModel(Config);
        var before = model.parameters().First();
        Assert.Same(model, model.Place(null));
        Assert.Same(model, model.Place(Placement.Cpu));
        Assert.Same(before, model.parameters().First());
        Assert.Equal(DeviceType.CPU, model.Device.type);
    }

    [Fact]
    public void Bfloat16_casts_every_weight_and_the_logits_stay_float32()
    {
        manual_seed(3);
        using var model = new VisionLanguageModel(Config);
        using var pixels = rand(1, 3, 16, 16);
        using var ids = tensor(new long[,] { { 1, Config.ImageTokenId, 2, 3 } });
        using var exact = model.Forward(pixels, ids);
        model.Place(new Placement(DType: ScalarType.BFloat16));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var reduced = model.Forward(pixels, ids);
        Assert.Equal(ScalarType.Float32, reduced.dtype);
        Assert.Equal(exact.shape, reduced.shape);
        // bfloat16 keeps 8 bits of mantissa: the logits of a 2-layer model agree to about 1e-2, not exactly.
        using var diff = (exact - reduced).abs().max();
        Assert.InRange(diff.item<float>(), 1e-6f, 0.05f);
    }

    [Fact]
    public void The_meta_placement_moves_the_model_to_meta_in_its_dtype()
    {
        using var model = new VisionLanguageModel(Config).Place(new Placement(new Device(DeviceType.META), ScalarType.BFloat16));
        Assert.Equal(DeviceType.META, model.Device.type);
        Assert.Equal(ScalarType.BFloat16, model.DType);
        Assert.All(model.parameters(), p => Assert.Equal(DeviceType.META, p.device.type));
    }
}
