using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using Distill.Models.Generation;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>The decoder stack: token embedding, N decoder layers, final RMSNorm.</summary>
public sealed class LlamaModel : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private readonly RotaryEmbedding _rope;

    public LlamaModel(DecoderConfig config) : base(nameof(LlamaModel))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.Layers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        Moe.MoeUpcycling.BuildMoeLayers(layers, config);                            // MoE FFNs when config.Moe is set
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        _rope = new RotaryEmbedding(config.HeadDim, config.RopeTheta);
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;
    public ModuleList<LlamaDecoderLayer> Layers => layers;

    /// <summary>inputIds [B,T] -> [B,T,D].</summary>
    public Tensor Embed(Tensor inputIds) => embed_tokens.forward(inputIds);

    /// <summary>inputsEmbeds [B,T,D], attentionMask [B,T] (1 real, 0 pad) or null -> final hidden states [B,T,D].</summary>
    public override Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask)
    {
        using var scope = torch.NewDisposeScope();
        long b = inputsEmbeds.shape[0], t = inputsEmbeds.shape[1];
        var device = inputsEmbeds.device;
        var positions = AttentionMask.PositionIds(b, t, attentionMask, device);     // [B,T]
        var allowed = AttentionMask.CausalWithPadding(b, t, attentionMask, device); // [B,1,T,T]
        var (cos, sin) = _rope.CosSin(positions);                                  // [B,T,d]
        var h = inputsEmbeds;                                                      // [B,T,D]
        foreach (var layer in layers)
            h = layer.forward(h, cos, sin, allowed);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>Incremental forward: inputsEmbeds [B,T,D] are the T positions after the S already in the cache
    /// (the whole left-padded prompt on the first call, then one token per row); attentionMask [B,T] for the new
    /// positions or null (all real). Appends them to the cache -> final hidden states [B,T,D].</summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask, KvCache cache)
    {
        if (cache.LayerCount != layers.Count)
            throw new ArgumentException($"the cache has {cache.LayerCount} layers, the decoder {layers.Count}.");
        using var scope = torch.NewDisposeScope();
        long b = inputsEmbeds.shape[0], t = inputsEmbeds.shape[1];
        var (positions, allowed) = cache.BeginStep(b, t, attentionMask, inputsEmbeds.device); // [B,T], [B,1,T,S+T]
        var (cos, sin) = _rope.CosSin(positions);                                  // [B,T,d]
        var h = inputsEmbeds;                                                      // [B,T,D]
        for (var i = 0; i < layers.Count; i++)
            h = layers[i].forward(h, cos, sin, allowed, cache, i);
        return norm.forward(h).MoveToOuterDisposeScope();
    }
}
