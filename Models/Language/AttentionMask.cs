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
            var keys = attentionMask.to(device).ne(0).view(batch, 1, 1, length);                // [B,1,1,T]
            allowed = allowed.logical_and(keys);
        }
        return allowed.contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>Position ids [B,T] int64: cumsum(attentionMask) - 1 clamped at 0, so a left-padded prompt gets the
    /// positions it would have unpadded; arange(T) per row when there is no mask.</summary>
    public static Tensor PositionIds(long batch, long length, Tensor? attentionMask, Device device)
    {
        using var scope = torch.NewDisposeScope();
        Tensor positions = attentionMask is null
            ? torch.arange(length, dtype: ScalarType.Int64, device: device).unsqueeze(0).expand(batch, length)
            : (attentionMask.to(device).to_type(ScalarType.Int64).cumsum(1) - 1).clamp_min(0);
        return positions.contiguous().MoveToOuterDisposeScope();
    }
}
