using Distill.Models.Devices;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class DeviceSelectorTests
{
    [Theory]
    [InlineData("auto", DeviceSetting.Auto)]
    [InlineData("cpu", DeviceSetting.Cpu)]
    [InlineData("cuda", DeviceSetting.Cuda)]
    [InlineData(" cpu ", DeviceSetting.Cpu)]
    public void Parses_the_allowed_values(string value, DeviceSetting expected)
    {
        Assert.Equal(expected, DeviceSelector.Parse(value));
        Assert.Equal(value.Trim(), DeviceSelector.Name(expected));
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("CPU")]
    [InlineData("cuda:0")]
    [InlineData("")]
    [InlineData(null)]
    public void Bad_values_name_the_key_and_the_allowed_values(string? value)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceSelector.Parse(value));
        Assert.Contains("distill.device", e.Message);
        Assert.Contains("allowed: auto, cpu, cuda", e.Message);
        Assert.False(DeviceSelector.TryParse(value, out _));
    }

    [Fact]
    public void Resolves_with_and_without_cuda()
    {
        Assert.Equal(DeviceType.CPU, DeviceSelector.Resolve(DeviceSetting.Cpu, () => true));
        Assert.Equal(DeviceType.CUDA, DeviceSelector.Resolve(DeviceSetting.Auto, () => true));
        Assert.Equal(DeviceType.CPU, DeviceSelector.Resolve(DeviceSetting.Auto, () => false));
        Assert.Equal(DeviceType.CUDA, DeviceSelector.Resolve(DeviceSetting.Cuda, () => true));
        var e = Assert.Throws<InvalidOperationException>(() => DeviceSelector.Resolve(DeviceSetting.Cuda, () => false));
        Assert.Contains("distill.device = cuda", e.Message);
        Assert.Contains(DeviceSelector.BuiltWithCuda ? "nvidia-smi" : "-p:DistillCuda=true", e.Message);
    }

    [Fact]
    public void Default_build_is_cpu_and_auto_follows_torch()
    {
        Assert.False(DeviceSelector.BuiltWithCuda);           // tests run on the default (CPU libtorch) build
        Assert.Equal("libtorch-cpu-linux-x64", DeviceSelector.LibTorchPackage);
        Assert.False(torch.cuda.is_available());              // the CPU libtorch has no CUDA
        Assert.Equal(DeviceType.CPU, DeviceSelector.Resolve(DeviceSetting.Auto));
        Assert.Equal(DeviceType.CPU, DeviceSelector.Select("cpu").type);
        Assert.Throws<InvalidOperationException>(() => DeviceSelector.Select("cuda"));
    }
}
