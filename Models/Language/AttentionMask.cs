using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Masks and positions shared by the decoder layers.</summary>
public static class AttentionMask
{
    /// <summary>Boolean "may attend" mask [B,1,T,T]: key j is visible from query i when j &lt;= i and key j is a real
    /// token (attentionMask[b,j] = 1). attentionMask [B,T] or null (all real).</summary>
    public static Tensor CausalWithPadding(long batch, long length, Tensor? attentionMask, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var causal = torch.ones(length, length, dtype: ScalarType.Bool, device: device).tril(); // [T,T]
        var allowed = causal.view(1, 1, length, length).expand(batch, 1, length, length);     // [B,1,T,T]
        if (attentionMask is not null)
        {
            var keys = attentionMask.to(device).ne(Scalars.Zero).view(batch, 1, 1, length);                // [B,1,1,T]
            allowed = allowed.logical_and(keys);
        }
        return allowed.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>"May attend" mask [B,1,T,P+T] for T new queries after P cached positions: key j is visible from
    /// query i when j &lt;= P + i and keyMask[b,j] != 0. keyMask [B,P+T] covers the cached and the new positions.
    /// With P = 0 this equals <see cref="CausalWithPadding"/>.</summary>
    public static Tensor CausalWithPast(long batch, long length, long past, Tensor keyMask, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var total = past + length;
        if (keyMask.shape[0] != batch || keyMask.shape[1] != total)
            throw new ArgumentException(
                $"key mask has shape [{string.Join(",", keyMask.shape)}], expected [{batch},{total}].");
        var causal = torch.ones(length, total, dtype: ScalarType.Bool, device: device).tril(past); // [T,P+T]
        var keys = keyMask.to(device).ne(Scalars.Zero).view(batch, 1, 1, total);                             // [B,1,1,P+T]
        var allowed = causal.view(1, 1, length, total).logical_and(keys);                         // [B,1,T,P+T]
        return allowed.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Position ids [B,T] for T new tokens after pastLengths[b] real tokens of row b:
    /// pastLengths + cumsum(newMask) - 1, clamped at 0. newMask [B,T] (1 real, 0 pad); pastLengths [B] int64.
    /// The same values as <see cref="PositionIds(long,long,Tensor?,Device)"/> over the whole concatenated mask.</summary>
    public static Tensor ContinuedPositionIds(Tensor newMask, Tensor pastLengths)
    {
        using var scope = torch.NewDisposeScope();
        var counts = newMask.to_type(ScalarType.Int64).cumsum(1);                                 // [B,T]
        var positions = pastLengths.to(newMask.device).to_type(ScalarType.Int64).unsqueeze(1).add(counts, Scalars.One).sub(Scalars.One).clamp_min(Scalars.Zero);
        return positions.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Position ids [B,T] int64: cumsum(attentionMask) - 1 clamped at 0, so a left-padded prompt gets the
    /// positions it would have unpadded; arange(T) per row when there is no mask.</summary>
    public static Tensor PositionIds(long batch, long length, Tensor? attentionMask, Device device)
    {
        using var scope = torch.NewDisposeScope();
        Tensor positions = attentionMask is null
            ? Scalars.Arange(length, device).unsqueeze(0).expand(batch, length)
            : attentionMask.to(device).to_type(ScalarType.Int64).cumsum(1).sub(Scalars.One).clamp_min(Scalars.Zero);
        return positions.contiguous().MoveToOuterDisposeScope();
    }
}
