using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Rotary position embedding (HF <c>LlamaRotaryEmbedding</c> and its scaled variants), <c>rotate_half</c>
/// convention: the head dimension is split into halves (x1, x2) rotated as (x1 cos - x2 sin, x2 cos + x1 sin).
/// Frequencies <c>inv_freq_i = 1 / theta^(2i/d)</c>, i = 0..d/2-1, computed in float32 as transformers does, then by
/// <see cref="RopeScaling"/>: <c>linear</c> divides the positions by the factor; <c>dynamic</c> (NTK) raises the base
/// to <c>theta * (factor * L / max_pos - (factor - 1))^(d/(d-2))</c> once a forward's largest position L = max id + 1
/// exceeds <c>max_position_embeddings</c> (recomputed every forward, as transformers does); <c>llama3</c> divides the
/// low frequencies by the factor and blends the middle band.</summary>
public sealed class RotaryEmbedding
{
    private readonly int _dim;
    private readonly double _theta;
    private readonly RopeScaling? _scaling;
    private readonly int _maxPositions;
    private readonly float[] _invFreq; // [d/2], after llama3 scaling when configured

    public RotaryEmbedding(int headDim, double theta, RopeScaling? scaling = null, int maxPositions = 0)
    {
        if (headDim % 2 != 0) throw new ArgumentException($"RoPE needs an even head dimension, got {headDim}.");
        if (scaling is not null && !RopeScaling.Supported.Contains(scaling.Type))
            throw new ArgumentException($"rope_scaling type '{scaling.Type}' is not supported; supported: {string.Join(", ", RopeScaling.Supported)}");
        _dim = headDim;
        _theta = theta;
        _scaling = scaling;
        _maxPositions = maxPositions;
        _invFreq = InverseFrequencies(theta);
        if (scaling is { Type: "llama3" }) _invFreq = Llama3(_invFreq, scaling, maxPositions);
    }

    /// <summary>positionIds [B,T] int64 -> (cos, sin), each [B,T,d] float32.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positionIds)
    {
        using var scope = torch.NewDisposeScope();
        var invFreqValues = _invFreq;
        if (_scaling is { Type: "dynamic" })
        {
            var length = Scalars.ToInt64(positionIds.max()) + 1;
            if (length > _maxPositions)
            {
                var factor = _scaling.Factor;
                var theta = _theta * Math.Pow(factor * length / _maxPositions - (factor - 1), (double)_dim / (_dim - 2));
                invFreqValues = InverseFrequencies(theta);
            }
        }
        var invFreq = torch.tensor(invFreqValues, device: positionIds.device);                  // [d/2]
        var positions = positionIds.to_type(ScalarType.Float32);                                 // [B,T]
        if (_scaling is { Type: "linear" }) positions = positions / Scalars.Of(_scaling.Factor);
        var freqs = positions.unsqueeze(-1) * invFreq;                                           // [B,T,d/2]
        var emb = torch.cat([freqs, freqs], -1);                                                 // [B,T,d]
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

    /// <summary>1 / theta^(2i/d) in float32 arithmetic, as torch computes
    /// <c>1.0 / (base ** (arange(0, d, 2).float() / d))</c>.</summary>
    private float[] InverseFrequencies(double theta)
    {
        var baseValue = (float)theta;
        return Enumerable.Range(0, _dim / 2).Select(i => 1f / MathF.Pow(baseValue, (float)(2 * i) / _dim)).ToArray();
    }

    /// <summary>transformers' llama3 frequency rescaling (float32, its order of operations).</summary>
    private static float[] Llama3(float[] invFreq, RopeScaling scaling, int maxPositions)
    {
        float factor = (float)scaling.Factor, low = (float)scaling.LowFreqFactor, high = (float)scaling.HighFreqFactor;
        float oldContext = scaling.OriginalMaxPositions ?? maxPositions;
        float lowWavelength = oldContext / low, highWavelength = oldContext / high;
        return invFreq.Select(f =>
        {
            var wavelength = 2 * MathF.PI / f;
            var scaled = wavelength > lowWavelength ? f / factor : f;
            var smooth = (oldContext / wavelength - low) / (high - low);
            var medium = !(wavelength < highWavelength) && !(wavelength > lowWavelength);
            return medium ? (1 - smooth) * scaled / factor + smooth * scaled : scaled;
        }).ToArray();
    }
}
