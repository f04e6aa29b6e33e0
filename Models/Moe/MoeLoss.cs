using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Moe;

/// <summary>Aggregates the MoE layers of a model.</summary>
public static class MoeLoss
{
    /// <summary>Every <see cref="MoeMlp"/> under <paramref name="root"/>, in module order.</summary>
    public static IReadOnlyList<MoeMlp> Layers(nn.Module root) =>
        root.named_modules().Select(m => m.module).OfType<MoeMlp>().ToList();

    /// <summary>Sum of the aux load-balancing losses of the last forward over all MoE layers (scalar float32,
    /// in the autograd graph when the forward was); 0 for a model without MoE layers. The coefficient
    /// (<see cref="Config.MoeConfig.AuxLossCoefficient"/>) is the caller's. Throws if an MoE layer has not run.</summary>
    public static Tensor AuxLoss(nn.Module root, Device? device = null)
    {
        using var scope = torch.NewDisposeScope();
        var total = torch.zeros([], ScalarType.Float32, device: device);
        foreach (var layer in Layers(root))
        {
            var aux = layer.LastAuxLoss ?? throw new InvalidOperationException("an MoE layer has not run a forward yet.");
            total = total.to(aux.device).add(aux, Scalars.One);
        }
        return total.MoveToOuterDisposeScope();
    }
}
