using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>CLIP-like ViT (<c>vision_model</c>): embeddings -> pre_layrnorm -> encoder. Returns the hidden states
/// of the selected layer, counted as Hugging Face's <c>hidden_states</c> tuple: index 0 is the (normed) embedding
/// output, index i the output of layer i; a negative <see cref="VisionConfig.SelectLayer"/> counts from the end
/// (-1 = last layer, -2 = penultimate). No post-layernorm: the LM never consumes a pooled output.</summary>
public sealed class VisionTransformer : nn.Module<Tensor, Tensor>
{
    private readonly VisionEmbeddings embeddings;
    private readonly LayerNorm pre_layrnorm;
    private readonly VisionEncoder encoder;
    private readonly int _layersToRun;

    public VisionTransformer(VisionConfig config) : base(nameof(VisionTransformer))
    {
        embeddings = new VisionEmbeddings(config);
        pre_layrnorm = nn.LayerNorm(config.HiddenSize, config.LayerNormEps);
        encoder = new VisionEncoder(config);
        _layersToRun = config.SelectLayer < 0 ? config.Layers + 1 + config.SelectLayer : config.SelectLayer;
        if (_layersToRun < 0 || _layersToRun > config.Layers)
            throw new ArgumentException($"vision SelectLayer {config.SelectLayer} is out of range for {config.Layers} layers.");
        RegisterComponents();
    }

    /// <summary>How many encoder layers run (the rest never influence the output).</summary>
    public int LayersUsed => _layersToRun;

    /// <summary>pixels [B,3,S,S] -> selected hidden states [B,N,Dv].</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var h = pre_layrnorm.forward(embeddings.forward(pixels)); // [B,N,Dv]
        return encoder.forward(h, _layersToRun).MoveToOuterDisposeScope();
    }
}
