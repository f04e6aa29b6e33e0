using Distill.Models.Devices;

namespace Distill.Pipeline.Tests;

public class DeviceConfigTests
{
    [Fact]
    public void Default_is_cpu_and_auto_binds()
    {
        Assert.Equal(DeviceSetting.Cpu, Cfg.Load().Settings.Device);
        Assert.Equal(DeviceSetting.Auto, Cfg.Load("demo", null, "distill.device=auto").Settings.Device);
    }

    [Fact]
    public void Bad_device_names_the_key_and_the_allowed_values()
    {
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.device=gpu"));
        Assert.Contains("distill.device", e);
        Assert.Contains("'gpu'", e);
        Assert.Contains("auto, cpu, cuda", e);
    }

    [Fact]
    public void Cuda_on_a_cpu_build_stops_at_validation()
    {
        Assert.False(DeviceSelector.BuiltWithCuda);
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.device=cuda"));
        Assert.Contains("distill.device = cuda", e);
        Assert.Contains("-p:DistillCuda=true", e);
    }
}
