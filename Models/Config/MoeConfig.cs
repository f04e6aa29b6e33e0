namespace Distill.Models.Config;

/// <summary>Sparse Mixture-of-Experts FFN (LLaVA-MoD, DESIGN 3): each chosen layer's FFN becomes
/// <see cref="Experts"/> copies (sparse upcycling), a router <c>Linear(d, E, bias=false)</c>, softmax, top-k with
/// renormalised gates (Mixtral's routing), capacity <c>ceil(k * cf * T / E)</c> with overflow dropped in token order;
/// a capacity factor of 0 means no capacity: every token reaches its k experts, as in transformers' Mixtral.</summary>
/// <param name="Layers">Explicit MoE layer indices; null = every other layer (0, 2, 4, ...).</param>
/// <param name="EvalCapacityFactor">In eval mode; the default 0 drops no token, so Distill's evaluation and
/// generation compute what transformers computes with the exported checkpoint.</param>
public sealed record MoeConfig(
    int Experts = 4,
    int TopK = 2,
    double TrainCapacityFactor = 1.5,
    double EvalCapacityFactor = 0,
    int[]? Layers = null,
    double AuxLossCoefficient = 0.01)
{
    public bool IsMoeLayer(int layer) => Layers is null ? layer % 2 == 0 : Layers.Contains(layer);

    /// <summary>The MoE layers of a decoder with <paramref name="layerCount"/> layers, ascending.</summary>
    public int[] LayerIndices(int layerCount) => Enumerable.Range(0, layerCount).Where(IsMoeLayer).ToArray();

    /// <summary>Value equality, <see cref="Layers"/> compared element by element (a record would compare the array
    /// reference), so a config read back from config.json equals the one saved.</summary>
    public bool Equals(MoeConfig? other) =>
        other is not null && Experts == other.Experts && TopK == other.TopK
        && TrainCapacityFactor == other.TrainCapacityFactor && EvalCapacityFactor == other.EvalCapacityFactor
        && AuxLossCoefficient == other.AuxLossCoefficient
        && (Layers is null ? other.Layers is null : other.Layers is not null && Layers.SequenceEqual(other.Layers));

    public override int GetHashCode() =>
        HashCode.Combine(Experts, TopK, TrainCapacityFactor, EvalCapacityFactor, AuxLossCoefficient,
            Layers is null ? -1 : Layers.Aggregate(17, (h, i) => h * 31 + i));

    public override string ToString() =>
        $"MoeConfig {{ Experts = {Experts}, TopK = {TopK}, TrainCapacityFactor = {TrainCapacityFactor}, EvalCapacityFactor = {EvalCapacityFactor}, Layers = {(Layers is null ? "every-other" : string.Join(",", Layers))}, AuxLossCoefficient = {AuxLossCoefficient} }}";
}
