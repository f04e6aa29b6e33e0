using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>HF <c>LlamaRMSNorm</c>: y = x / sqrt(mean(x^2) + eps) * weight, computed in float32.</summary>
public sealed class LlamaRmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;
    private readonly double _eps;

    public LlamaRmsNorm(long dim, double eps, Placement? placement = null) : base(nameof(LlamaRmsNorm))
    {
        weight = new Parameter((placement ?? Placement.Cpu).Ones(dim));
        _eps = eps;
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public override Tensor forward(Tensor x) // [..., D]
    {
        using var scope = torch.NewDisposeScope();
        var h = x.to_type(ScalarType.Float32);
        var variance = h.pow(Scalars.Of(2L)).mean([-1L], keepdim: true);               // [..., 1]
        h = h * torch.rsqrt(variance.add(Scalars.Of(_eps), Scalars.One));
        return (weight * h.to_type(x.dtype)).MoveToOuterDisposeScope();
    }
}
