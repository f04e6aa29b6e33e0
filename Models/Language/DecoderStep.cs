using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>What every decoder layer of one forward shares: the rotary cos/sin [B,T,d] of the new positions, the
/// "may attend" mask [B,1,T,S+T], the key mask of the new positions [B,T] (1 real, 0 pad; null = all real), per-token
/// routing hints [B,T] int64 for layers that route tokens (null = none), the KV cache (null = a plain forward), the
/// attention capture (null = none) and the rotary embedding itself.</summary>
public sealed record DecoderStep(Tensor Cos, Tensor Sin, Tensor Allowed, Tensor? KeyMask, Tensor? RoutingHints,
    KvCache? Cache, AttentionCapture? Capture, RotaryEmbedding Rope);

/// <summary>A forward that takes a decoder layer's place (gamma-MoD routes tokens around it). The layer keeps its
/// parameters and names; the route only decides how hidden states go through it.</summary>
public interface IDecoderLayerRoute
{
    /// <summary>hidden [B,T,D] -> [B,T,D] for layer <paramref name="layer"/>.</summary>
    Tensor Forward(Tensor hidden, DecoderStep step, int layer);
}
