using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Masks and positions shared by the decoder layers.</summary>
public static class AttentionMask
{
    /// <summary>Boolean "may attend" mask [B,1,T,T]: key j is visible from query i when j &lt;= i (and i - j &lt;=
    /// <paramref name="slidingWindow"/> when given, as transformers 4.40's sliding-window mask) and key j is a real token
    /// (attentionMask[b,j] = 1). attentionMask [B,T] or null (all real).</summary>
    public static Tensor CausalWithPadding(long batch, long length, Tensor? attentionMask, Device device, int? slidingWindow = null)
    {
        using var scope = torch.NewDisposeScope();
        var causal = Band(length, length, 0, slidingWindow, device);                              // [T,T]
        var allowed = causal.view(1, 1, length, length).expand(batch, 1, length, length);     // [B,1,T,T]
        if (attentionMask is not null)
        {
            var keys = attentionMask.to(device).ne(Scalars.Zero).view(batch, 1, 1, length);                // [B,1,1,T]
            allowed = allowed.logical_and(keys);
        }
        return allowed.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>"May attend" mask [B,1,T,P+T] for T new queries after P cached positions: key j is visible from
    /// query i when j &lt;= P + i (and P + i - j &lt;= <paramref name="slidingWindow"/> when given) and keyMask[b,j] != 0.
    /// keyMask [B,P+T] covers the cached and the new positions. With P = 0 this equals <see cref="CausalWithPadding"/>.</summary>
    public static Tensor CausalWithPast(long batch, long length, long past, Tensor keyMask, Device device, int? slidingWindow = null)
    {
        using var scope = torch.NewDisposeScope();
        var total = past + length;
        if (keyMask.shape[0] != batch || keyMask.shape[1] != total)
            throw new ArgumentException(
                $"key mask has shape [{string.Join(",", keyMask.shape)}], expected [{batch},{total}].");
        var causal = Band(length, total, past, slidingWindow, device);                            // [T,P+T]
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

    /// <summary>[rows, columns] bool: true where column j &lt;= row i + offset and, with a window, i + offset - j &lt;=
    /// window: the query itself and the window positions before it, as transformers 4.40's sliding-window mask
    /// (<c>tril(diagonal = past - window - 1)</c> masked).</summary>
    private static Tensor Band(long rows, long columns, long offset, int? window, Device device)
    {
        using var scope = torch.NewDisposeScope();
        var band = torch.ones(rows, columns, dtype: ScalarType.Bool, device: device).tril(offset);
        if (window is { } w)
            band = band.logical_and(torch.ones(rows, columns, dtype: ScalarType.Bool, device: device).triu(offset - w));
        return band.MoveToOuterDisposeScope();
    }
}
