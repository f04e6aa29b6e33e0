using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Torch;

/// <summary>Where and in which dtype a model's parameters are created (what transformers' <c>device</c> and
/// <c>torch_dtype</c> do at construction): a model for CUDA, in bfloat16, or on the <c>meta</c> device (shapes only, no
/// memory) is built so from the start instead of being built in float32 on the CPU and moved.</summary>
public sealed record Placement(Device? Device = null, ScalarType DType = ScalarType.Float32)
{
    /// <summary>float32 on the CPU.</summary>
    public static Placement Cpu { get; } = new();

    /// <summary>The meta device: parameters have shapes and dtypes but no storage.</summary>
    public static Placement Meta { get; } = new(new Device(DeviceType.META));

    /// <summary>False for a model whose every weight a checkpoint is about to fill: its large layers get uninitialised
    /// storage instead of random values (<see cref="PlacedLayers"/>).</summary>
    public bool Initialize { get; init; } = true;

    /// <summary>Parameters on the meta device (shapes only).</summary>
    public bool IsMeta => Device?.type == DeviceType.META;

    /// <summary>An uninitialised parameter tensor of <paramref name="shape"/> here.</summary>
    public Tensor Empty(params long[] shape) => torch.empty(shape, DType, Device);

    /// <summary>A parameter tensor of ones here.</summary>
    public Tensor Ones(params long[] shape) => torch.ones(shape, DType, Device);

    /// <summary>A parameter tensor of zeros here.</summary>
    public Tensor Zeros(params long[] shape) => torch.zeros(shape, DType, Device);
}
