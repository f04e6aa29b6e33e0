using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Mod;

/// <summary>The shared vision-language router of gamma-MoD (DESIGN 5.4): <c>Linear(d, 2, bias=false)</c> on the
/// normalised hidden state; class 1 is "process", so p = softmax(logits)[..., 1] = P(process). One instance serves
/// every MoD layer of a decoder, registered once as <c>model.mod_router.weight</c> [2,d].</summary>
public sealed class ModRouter : nn.Module<Tensor, Tensor>
{
    private readonly Parameter weight;

    /// <summary>A fresh router, weight drawn from N(0, 0.02) with the global torch RNG.</summary>
    public ModRouter(long hidden) : base(nameof(ModRouter))
    {
        weight = new Parameter(torch.empty(2, hidden));
        using (torch.no_grad())
            nn.init.normal_(weight, 0.0, Init.Std);
        RegisterComponents();
    }

    /// <summary>[2,d]: row 0 scores "skip", row 1 "process".</summary>
    public Parameter Weight => weight;

    /// <summary>normed [..., d] -> router logits [..., 2], float32.</summary>
    public override Tensor forward(Tensor normed)
    {
        using var scope = torch.NewDisposeScope();
        return nn.functional.linear(normed, weight).to_type(ScalarType.Float32).MoveToOuterDisposeScope();
    }

    /// <summary>logits [..., 2] -> p = P(process) [...].</summary>
    public static Tensor ProcessProbability(Tensor logits)
    {
        using var scope = torch.NewDisposeScope();
        return logits.softmax(-1).select(-1, 1).MoveToOuterDisposeScope();
    }
}
