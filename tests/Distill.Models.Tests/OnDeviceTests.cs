using Distill.Models;
using Distill.Models.Config;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class OnDeviceTests
{
    [Fact]
    public void Null_or_the_current_device_leaves_the_model_and_its_weights_in_place()
    {
        manual_seed(3);
        var config = new VlmConfig(new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" }, new DecoderConfig(20, 16, 32, 1, 2, 1), 4)
        { VisionFeatureLayer = -1 };
        using var model = new VisionLanguageModel(config);
        var before = model.parameters().First();
        Assert.Same(model, model.OnDevice(null));
        Assert.Same(model, model.OnDevice(CPU));
        Assert.Same(before, model.parameters().First());
        Assert.Equal(TorchSharp.DeviceType.CPU, model.Device.type);
    }
}
