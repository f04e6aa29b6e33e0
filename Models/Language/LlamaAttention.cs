using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Multi-head self-attention with rotary positions and grouped-query attention (HF <c>LlamaAttention</c>,
/// <c>Qwen2Attention</c>, <c>MistralAttention</c>): Heads query heads share KvHeads key/value heads (each kv head
/// serves Heads/KvHeads query heads), head_dim from the config; q/k/v biases for Qwen2 (<see cref="DecoderConfig.QkvBias"/>),
/// an o_proj bias for Llama's <c>attention_bias</c>.</summary>
public sealed class LlamaAttention : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear o_proj;
    private readonly int _heads, _kvHeads, _headDim;

    public LlamaAttention(DecoderConfig config, Placement? placement = null) : base(nameof(LlamaAttention))
    {
        if (config.ExplicitHeadDim is null && config.HiddenSize % config.Heads != 0)
            throw new ArgumentException($"hidden size {config.HiddenSize} is not divisible by {config.Heads} heads.");
        if (config.KvHeads <= 0 || config.Heads % config.KvHeads != 0)
            throw new ArgumentException($"{config.KvHeads} kv heads do not divide {config.Heads} heads.");
        _heads = config.Heads;
        _kvHeads = config.KvHeads;
        _headDim = config.HeadDim;
        q_proj = placement.Linear(config.HiddenSize, _heads * _headDim, hasBias: config.QkvBias);
        k_proj = placement.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.QkvBias);
        v_proj = placement.Linear(config.HiddenSize, _kvHeads * _headDim, hasBias: config.QkvBias);
        o_proj = placement.Linear(_heads * _headDim, config.HiddenSize, hasBias: config.OutputBias);
        RegisterComponents();
    }

    public Linear QProj => q_proj;
    public Linear KProj => k_proj;
    public Linear VProj => v_proj;
    public Linear OProj => o_proj;

    /// <summary>x [B,T,D]; cos/sin [B,T,d]; allowed [B,1,T,T] bool -> [B,T,D]. No cache.</summary>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed) =>
        forward(x, cos, sin, allowed, null, 0);

    /// <summary>With a KV cache: x [B,T,D] holds the T new positions; this step's keys/values are appended to
    /// layer <paramref name="layer"/> of the cache and the queries attend over all S+T cached positions;
    /// allowed [B,1,T,S+T]. Without a cache (null) the plain forward. -> [B,T,D].</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed, KvCache? cache, int layer) =>
        forward(x, cos, sin, allowed, cache, layer, null);

    /// <summary>As above; when <paramref name="capture"/> is given, the attention probabilities [B,H,T,S+T] (float32)
    /// are recorded under index <paramref name="layer"/>.</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed, KvCache? cache, int layer, AttentionCapture? capture)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], t = x.shape[1];
        var q = q_proj.forward(x).view(b, t, _heads, _headDim).transpose(1, 2);    // [B,H,T,d]
        var k = k_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);  // [B,Hkv,T,d]
        var v = v_proj.forward(x).view(b, t, _kvHeads, _headDim).transpose(1, 2);  // [B,Hkv,T,d]
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = RotaryEmbedding.Apply(k, cos, sin);
        if (cache is not null)
            (k, v) = cache.Append(layer, k, v);                                     // [B,Hkv,S+T,d]
        k = RepeatKv(k, _heads / _kvHeads);                                         // [B,H,S+T,d]
        v = RepeatKv(v, _heads / _kvHeads);
        var context = ScaledDotProduct(q, k, v, allowed, capture, layer);          // [B,H,T,d]
        var merged = context.transpose(1, 2).reshape(b, t, _heads * _headDim);     // [B,T,H*d]
        return o_proj.forward(merged).MoveToOuterDisposeScope();                   // [B,T,D]
    }

    /// <summary>softmax(q k^T / sqrt(d), masked) v. Masked scores get the most negative float (not -inf), so a
    /// query that sees no key (a pad position) gets a uniform row instead of NaN.</summary>
    public static Tensor ScaledDotProduct(Tensor q, Tensor k, Tensor v, Tensor allowed) =>
        ScaledDotProduct(q, k, v, allowed, null, 0);

    /// <summary>As above, recording the float32 probabilities [B,H,T,S] in <paramref name="capture"/> (if any) under
    /// index <paramref name="layer"/>.</summary>
    public static Tensor ScaledDotProduct(Tensor q, Tensor k, Tensor v, Tensor allowed, AttentionCapture? capture, int layer)
    {
        using var scope = torch.NewDisposeScope();
        var scores = q.matmul(k.transpose(-2, -1)).div(Scalars.Of(Math.Sqrt(q.shape[^1])));      // [B,H,T,S]
        scores = scores.to_type(ScalarType.Float32).masked_fill(allowed.logical_not(), Scalars.Of(float.MinValue));
        var probs32 = scores.softmax(-1);                                           // [B,H,T,S] float32
        capture?.Record(layer, probs32);
        var probs = probs32.to_type(q.dtype);
        return probs.matmul(v).MoveToOuterDisposeScope();                           // [B,H,T,d]
    }

    /// <summary>[B,Hkv,T,d] -> [B,Hkv*n,T,d], each kv head repeated n times consecutively.</summary>
    public static Tensor RepeatKv(Tensor kv, int n)
    {
        if (n == 1) return kv.alias();
        using var scope = torch.NewDisposeScope();
        long b = kv.shape[0], h = kv.shape[1], t = kv.shape[2], d = kv.shape[3];
        return kv.unsqueeze(2).expand(b, h, n, t, d).reshape(b, h * n, t, d).MoveToOuterDisposeScope();
    }
}
