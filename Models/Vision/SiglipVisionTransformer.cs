using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>HF <c>SiglipVisionTransformer</c> (<c>vision_model</c>): embeddings -> encoder (no pre-norm);
/// <c>post_layernorm</c> and the pooling <c>head</c> serve SigLIP's own objective and are loaded and saved, but
/// LLaVA never applies them to the hidden states it takes.</summary>
public sealed class SiglipVisionTransformer : nn.Module<Tensor, Tensor>, IVisionTransformer
{
    private readonly SiglipVisionEmbeddings embeddings;
    private readonly VisionEncoder encoder;
    private readonly LayerNorm post_layernorm;
    private readonly SiglipMultiheadAttentionPoolingHead head;

    public SiglipVisionTransformer(VisionConfig config, Placement? placement = null) : base(nameof(SiglipVisionTransformer))
    {
        embeddings = new SiglipVisionEmbeddings(config, placement);
        encoder = new VisionEncoder(config, placement);
        post_layernorm = placement.LayerNorm(config.HiddenSize, config.LayerNormEps);
        head = new SiglipMultiheadAttentionPoolingHead(config, placement);
        RegisterComponents();
    }

    public int Layers => encoder.Count;

    public Tensor HiddenState(Tensor pixels, int index)
    {
        if (index < 0 || index > encoder.Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"hidden state index must lie in 0..{encoder.Count}");
        using var scope = torch.NewDisposeScope();
        return encoder.forward(embeddings.forward(pixels), index).MoveToOuterDisposeScope(); // [B,N,Dv]
    }

    /// <summary>The last hidden state before the post-layernorm [B,N,Dv].</summary>
    public override Tensor forward(Tensor pixels) => HiddenState(pixels, encoder.Count);
}
