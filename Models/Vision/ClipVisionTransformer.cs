using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>HF <c>CLIPVisionTransformer</c> (<c>vision_model</c>): embeddings -> <c>pre_layrnorm</c> (transformers'
/// spelling) -> encoder. <c>post_layernorm</c> normalises the pooled class token of CLIP's own head; it is loaded and
/// saved, but LLaVA never applies it to the hidden states it takes.</summary>
public sealed class ClipVisionTransformer : nn.Module<Tensor, Tensor>, IVisionTransformer
{
    private readonly ClipVisionEmbeddings embeddings;
    private readonly LayerNorm pre_layrnorm;
    private readonly VisionEncoder encoder;
    private readonly LayerNorm post_layernorm;

    public ClipVisionTransformer(VisionConfig config, Placement? placement = null) : base(nameof(ClipVisionTransformer))
    {
        embeddings = new ClipVisionEmbeddings(config, placement);
        pre_layrnorm = placement.LayerNorm(config.HiddenSize, config.LayerNormEps);
        encoder = new VisionEncoder(config, placement);
        post_layernorm = placement.LayerNorm(config.HiddenSize, config.LayerNormEps);
        RegisterComponents();
    }

    public int Layers => encoder.Count;

    public Tensor HiddenState(Tensor pixels, int index)
    {
        if (index < 0 || index > encoder.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"hidden state index must lie in 0..{encoder.Count}");
        using var scope = torch.NewDisposeScope();
        var h = pre_layrnorm.forward(embeddings.forward(pixels));                            // [B,N+1,Dv]
        return encoder.forward(h, index).MoveToOuterDisposeScope();                          // [B,N+1,Dv]
    }

    /// <summary>The last hidden state (CLIP's <c>last_hidden_state</c>, no post-layernorm) [B,N+1,Dv].</summary>
    public override Tensor forward(Tensor pixels) => HiddenState(pixels, encoder.Count);
}
