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

    [Fact]
    public void Dtype_defaults_to_float32_binds_bfloat16_and_refuses_other_names()
    {
        Assert.Equal(TorchSharp.torch.ScalarType.Float32, Cfg.Load().Settings.DType);
        Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, Cfg.Load("demo", null, "distill.dtype=bfloat16").Settings.DType);
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.dtype=float16"));
        Assert.Contains("distill.dtype", e);
        Assert.Contains("'float16'", e);
        Assert.Contains("float32, bfloat16", e);
    }
}
