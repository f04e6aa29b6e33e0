using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Mod;

/// <summary>Aggregates the MoD layers of a decoder.</summary>
public static class ModLoss
{
    /// <summary>Sum of the routing losses of the last forward over the given MoD layers (scalar float32, in the
    /// autograd graph when the forward was); 0 without MoD layers. The coefficient
    /// (<see cref="Config.ModConfig.RoutingLossCoefficient"/>) is the caller's. Throws if a MoD layer has not run.</summary>
    public static Tensor RoutingLoss(IEnumerable<ModDecoderLayer> layers, Device? device = null)
    {
        using var scope = torch.NewDisposeScope();
        var total = torch.zeros([], ScalarType.Float32, device: device);
        foreach (var layer in layers)
        {
            var loss = layer.LastRoutingLoss ?? throw new InvalidOperationException("a MoD layer has not run a forward yet.");
            total = total.to(loss.device).add(loss, Scalars.One);
        }
        return total.MoveToOuterDisposeScope();
    }
}
