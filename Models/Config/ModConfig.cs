namespace Distill.Models.Config;

/// <summary>gamma-MoD Mixture-of-Depths (DESIGN 5.4): the listed decoder layers are wrapped with one shared router
/// <c>Linear(d, 2, bias=false)</c>; of the competing tokens (image/system) the top (1 - SkipRatio) by P(process)
/// are processed, the rest skip the layer; question/response tokens are always processed.</summary>
public sealed record ModConfig(
    int[] Layers,
    double SkipRatio = 0.5,
    double PrefillThreshold = 0.005,
    double DecodeThreshold = 0.5,
    double RoutingLossCoefficient = 0.01)
{
    public bool IsModLayer(int layer) => Layers.Contains(layer);

    public override string ToString() =>
        $"ModConfig {{ Layers = {string.Join(",", Layers)}, SkipRatio = {SkipRatio}, PrefillThreshold = {PrefillThreshold}, DecodeThreshold = {DecodeThreshold}, RoutingLossCoefficient = {RoutingLossCoefficient} }}";
}
