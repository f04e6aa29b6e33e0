using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Torch;

/// <summary>The large layers of a model built in a <see cref="Placement"/>: <c>nn.Linear</c> and <c>nn.Embedding</c>
/// on its device and in its dtype, randomly initialised as TorchSharp does, or, for a placement that a checkpoint will
/// fill (<see cref="Placement.Initialize"/> false), with uninitialised storage: initialising a 7B model only to
/// overwrite every weight costs more than reading the checkpoint.</summary>
public static class PlacedLayers
{
    private static readonly Device Meta = new(DeviceType.META);

    /// <summary><c>nn.Linear(inFeatures, outFeatures, hasBias)</c> here: weight [out, in], bias [out].</summary>
    public static Linear Linear(this Placement? placement, long inFeatures, long outFeatures, bool hasBias)
    {
        var p = placement ?? Placement.Cpu;
        if (p.Initialize || p.IsMeta) return nn.Linear(inFeatures, outFeatures, hasBias, p.Device, p.DType);
        var layer = nn.Linear(inFeatures, outFeatures, hasBias, Meta, p.DType); // shapes only, nothing drawn
        layer.weight = new Parameter(p.Empty(outFeatures, inFeatures));
        if (hasBias) layer.bias = new Parameter(p.Empty(outFeatures));
        return layer;
    }

    /// <summary><c>nn.Embedding(count, dim)</c> here: weight [count, dim].</summary>
    public static Embedding Embedding(this Placement? placement, long count, long dim)
    {
        var p = placement ?? Placement.Cpu;
        if (p.Initialize || p.IsMeta) return nn.Embedding(count, dim, device: p.Device, dtype: p.DType);
        var layer = nn.Embedding(count, dim, device: Meta, dtype: p.DType);
        layer.weight = new Parameter(p.Empty(count, dim));
        return layer;
    }

    /// <summary><c>nn.LayerNorm(size, eps)</c> here: weight [size] ones, bias [size] zeros (small: always initialised).</summary>
    public static LayerNorm LayerNorm(this Placement? placement, long size, double eps) =>
        nn.LayerNorm(size, eps, device: placement?.Device, dtype: placement?.DType);
}
