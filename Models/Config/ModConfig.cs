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

    /// <summary>Value equality, <see cref="Layers"/> compared element by element (a record would compare the array
    /// reference), so a config read back from config.json equals the one saved.</summary>
    public bool Equals(ModConfig? other) =>
        other is not null && SkipRatio == other.SkipRatio && PrefillThreshold == other.PrefillThreshold
        && DecodeThreshold == other.DecodeThreshold && RoutingLossCoefficient == other.RoutingLossCoefficient
        && Layers.SequenceEqual(other.Layers);

    public override int GetHashCode() =>
        HashCode.Combine(SkipRatio, PrefillThreshold, DecodeThreshold, RoutingLossCoefficient,
            Layers.Aggregate(17, (h, i) => h * 31 + i));

    public override string ToString() =>
        $"ModConfig {{ Layers = {string.Join(",", Layers)}, SkipRatio = {SkipRatio}, PrefillThreshold = {PrefillThreshold}, DecodeThreshold = {DecodeThreshold}, RoutingLossCoefficient = {RoutingLossCoefficient} }}";
}
