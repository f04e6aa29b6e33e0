using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Rotary position embedding (RoPE), Hugging Face <c>rotate_half</c> convention: the head dimension is
/// split into halves (x1, x2) and rotated as (x1 cos - x2 sin, x2 cos + x1 sin) with
/// frequencies theta^(-2i/d), i = 0..d/2-1, duplicated over both halves.</summary>
public sealed class RotaryEmbedding
{
    private readonly float[] _invFreq; // [d/2]

    public RotaryEmbedding(int headDim, double theta)
    {
        if (headDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head dimension, got {headDim}.");
        _invFreq = Enumerable.Range(0, headDim / 2)
            .Select(i => (float)(1.0 / Math.Pow(theta, 2.0 * i / headDim)))
            .ToArray();
    }

    /// <summary>positionIds [B,T] int64 -> (cos, sin), each [B,T,d] float32.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds)
    {
        using var scope = torch.NewDisposeScope();
        var invFreq = torch.tensor(_invFreq, device: positionIds.device);          // [d/2]
        var freqs = positionIds.to_type(ScalarType.Float32).unsqueeze(-1) * invFreq; // [B,T,d/2]
        var emb = torch.cat([freqs, freqs], -1);                                    // [B,T,d]
        return (emb.cos().MoveToOuterDisposeScope(), emb.sin().MoveToOuterDisposeScope());
    }

    /// <summary>x [B,H,T,d], cos/sin [B,T,d] -> x rotated, [B,H,T,d].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = torch.NewDisposeScope();
        var c = cos.unsqueeze(1).to_type(x.dtype);                 // [B,1,T,d]
        var s = sin.unsqueeze(1).to_type(x.dtype);
        return (x * c).add(RotateHalf(x) * s, Scalars.One).MoveToOuterDisposeScope();
    }

    /// <summary>(x1, x2) -> (-x2, x1) over the last dimension.</summary>
    public static Tensor RotateHalf(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var half = x.shape[^1] / 2;
        var x1 = x.narrow(-1, 0, half);
        var x2 = x.narrow(-1, half, half);
        return torch.cat([-x2, x1], -1).MoveToOuterDisposeScope();
    }
}
