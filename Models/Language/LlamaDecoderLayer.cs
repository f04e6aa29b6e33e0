using Distill.Models.Torch;
using TorchSharp;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Pre-norm decoder block (HF <c>LlamaDecoderLayer</c>): h = x + Attn(RMSNorm(x)); out = h + FFN(RMSNorm(h)).
/// The FFN is a <see cref="LlamaMlp"/> registered as <c>mlp</c> unless <see cref="ReplaceFeedForward"/> puts another
/// block in its place under another name (an MoE block as Mixtral's <c>block_sparse_moe</c>).</summary>
public sealed class LlamaDecoderLayer : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    public const string MlpName = "mlp";

    private readonly LlamaRmsNorm input_layernorm;
    private readonly LlamaAttention self_attn;
    private readonly LlamaRmsNorm post_attention_layernorm;
    private nn.Module<Tensor, Tensor> _feedForward;
    private string _feedForwardName = MlpName;

    public LlamaDecoderLayer(DecoderConfig config, Placement? placement = null) : base(nameof(LlamaDecoderLayer))
    {
        input_layernorm = new LlamaRmsNorm(config.HiddenSize, config.RmsNormEps, placement);
        self_attn = new LlamaAttention(config, placement);
        post_attention_layernorm = new LlamaRmsNorm(config.HiddenSize, config.RmsNormEps, placement);
        RegisterComponents();
        _feedForward = new LlamaMlp(config.HiddenSize, config.IntermediateSize, config.HiddenAct, placement);
        register_module(MlpName, _feedForward);
    }

    public LlamaRmsNorm InputLayernorm => input_layernorm;
    public LlamaAttention SelfAttn => self_attn;
    public LlamaRmsNorm PostAttentionLayernorm => post_attention_layernorm;

    /// <summary>The feed-forward block (a <see cref="LlamaMlp"/> unless replaced).</summary>
    public nn.Module<Tensor, Tensor> Mlp => _feedForward;

    /// <summary>The name the feed-forward block's parameters are saved under (<c>mlp</c>, or e.g. <c>block_sparse_moe</c>).</summary>
    public string FeedForwardName => _feedForwardName;

    /// <summary>Swaps the feed-forward block, registered under <paramref name="name"/>. Returns the previous block,
    /// which the caller now owns.</summary>
    public nn.Module<Tensor, Tensor> ReplaceFeedForward(nn.Module<Tensor, Tensor> replacement, string name)
    {
        var previous = _feedForward;
        _internal_submodules.Remove(_feedForwardName);
        _feedForward = replacement;
        _feedForwardName = name;
        register_module(name, replacement);
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
        var y = h.add(_feedForward.forward(post_attention_layernorm.forward(h)), Scalars.One);
        return y.MoveToOuterDisposeScope();
    }
}
