using TorchSharp;
using Distill.Models.Config;
using Distill.Models.Generation;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Pre-norm decoder block: h = x + Attn(RMSNorm(x)); out = h + MLP(RMSNorm(h)).</summary>
public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    private readonly RmsNorm input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly RmsNorm post_attention_layernorm;
    private nn.Module<Tensor, Tensor> mlp;

    public LlamaDecoderLayer(DecoderConfig config) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        self_attn = new LlamaAttention(config);
        post_attention_layernorm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        mlp = new LlamaMlp(config.HiddenSize, config.IntermediateSize);
        RegisterComponents();
    }

    public RmsNorm InputLayernorm => input_layernorm;
    public LlamaAttention SelfAttn => self_attn;
    public RmsNorm PostAttentionLayernorm => post_attention_layernorm;

    /// <summary>The feed-forward block (a <see cref="LlamaMlp"/> unless replaced, e.g. by an MoE layer).</summary>
    public nn.Module<Tensor, Tensor> Mlp => mlp;

    /// <summary>Swaps the feed-forward block (e.g. for an upcycled MoE); its parameters keep the <c>mlp.</c> prefix.
    /// Returns the previous block, which the caller now owns.</summary>
    public nn.Module<Tensor, Tensor> ReplaceMlp(nn.Module<Tensor, Tensor> replacement)
    {
        var previous = mlp;
        mlp = replacement;
        _internal_submodules["mlp"] = replacement;
        return previous;
    }

    /// <summary>x [B,T,D]; cos/sin [B,T,d]; allowed [B,1,T,T] -> [B,T,D]. No cache.</summary>
    public override Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed) =>
        forward(x, cos, sin, allowed, null, 0);

    /// <summary>x [B,T,D] new positions; allowed [B,1,T,S+T]; attention reads and extends layer
    /// <paramref name="layer"/> of the cache (null: plain forward) -> [B,T,D].</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed, KvCache? cache, int layer) =>
        forward(x, cos, sin, allowed, cache, layer, null);

    /// <summary>As above, recording the attention probabilities in <paramref name="capture"/> when given.</summary>
    public Tensor forward(Tensor x, Tensor cos, Tensor sin, Tensor allowed, KvCache? cache, int layer, AttentionCapture? capture)
    {
        using var scope = torch.NewDisposeScope();
        var h = x.add(self_attn.forward(input_layernorm.forward(x), cos, sin, allowed, cache, layer, capture), Scalars.One);
        var y = h.add(mlp.forward(post_attention_layernorm.forward(h)), Scalars.One);
        return y.MoveToOuterDisposeScope();
    }
}
