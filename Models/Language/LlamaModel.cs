using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using Distill.Models.Generation;
using Distill.Models.Mod;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>The decoder stack: token embedding, N decoder layers, final RMSNorm. With gamma-MoD (DESIGN 5.4) some
/// layers run through a <see cref="ModDecoderLayer"/> wrapper and one shared router <c>mod_router</c> is registered.</summary>
public sealed class LlamaModel : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly RmsNorm norm;
    private ModRouter? mod_router;               // the one shared MoD router; null without MoD layers
    private readonly ModDecoderLayer?[] _mod;    // per layer: its MoD wrapper, or null (dense). Not modules:
                                                 // the wrapped layers and the router are registered above.
    private readonly RotaryEmbedding _rope;

    public LlamaModel(DecoderConfig config) : base(nameof(LlamaModel))
    {
        embed_tokens = nn.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.Layers).Select(_ => new LlamaDecoderLayer(config)).ToArray());
        Moe.MoeUpcycling.BuildMoeLayers(layers, config);                            // MoE FFNs when config.Moe is set
        norm = new RmsNorm(config.HiddenSize, config.RmsNormEps);
        _rope = new RotaryEmbedding(config.HeadDim, config.RopeTheta);
        _mod = new ModDecoderLayer?[config.Layers];
        RegisterComponents();
        if (config.Mod is { } mod)                                                  // MoD layers when config.Mod is set
        {
            ModConversion.Validate(mod, config.Layers);
            InstallMod(mod, device: null);
        }
    }

    public Embedding EmbedTokens => embed_tokens;

    /// <summary>The decoder layers (for a MoD layer: the wrapped dense layer, which holds its weights).</summary>
    public ModuleList<LlamaDecoderLayer> Layers => layers;

    /// <summary>The shared MoD router, or null without MoD layers.</summary>
    public ModRouter? ModRouter => mod_router;

    /// <summary>Per layer, its MoD wrapper or null for a dense layer.</summary>
    public IReadOnlyList<ModDecoderLayer?> ModWrappers => _mod;

    /// <summary>The MoD layers, in layer order.</summary>
    public IReadOnlyList<ModDecoderLayer> ModLayers => _mod.OfType<ModDecoderLayer>().ToList();

    /// <summary>Whether any layer is a MoD layer.</summary>
    public bool HasModLayers => mod_router is not null;

    /// <summary>Wraps the layers chosen by <paramref name="config"/> around one fresh shared router (registered as
    /// <c>mod_router</c>, moved to <paramref name="device"/> and the layers' dtype). No router without MoD layers.</summary>
    internal void InstallMod(ModConfig config, Device? device)
    {
        var chosen = ModConversion.ModLayerIndices(config, layers.Count);
        if (chosen.Length == 0) return;
        var reference = layers[0].InputLayernorm.Weight;
        var router = new ModRouter(reference.shape[0]);
        router.to(reference.dtype);
        if (device is not null) router.to(device);
        mod_router = router;
        register_module("mod_router", router);
        foreach (var i in chosen)
            _mod[i] = new ModDecoderLayer(layers[i], router, config, _rope);
    }

    /// <summary>inputIds [B,T] -> [B,T,D].</summary>
    public Tensor Embed(Tensor inputIds) => embed_tokens.forward(inputIds);

    /// <summary>inputsEmbeds [B,T,D], attentionMask [B,T] (1 real, 0 pad) or null -> final hidden states [B,T,D].</summary>
    public override Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask) =>
        forward(inputsEmbeds, attentionMask, null, null);

    /// <summary>Incremental forward: inputsEmbeds [B,T,D] are the T positions after the S already in the cache
    /// (the whole left-padded prompt on the first call, then one token per row); attentionMask [B,T] for the new
    /// positions or null (all real). Appends them to the cache -> final hidden states [B,T,D].</summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask, KvCache cache) =>
        forward(inputsEmbeds, attentionMask, null, cache);

    /// <summary>The general forward. inputsEmbeds [B,T,D]; attentionMask [B,T] (1 real, 0 pad) or null;
    /// tokenTypes [B,T] int64 (<see cref="ModTokenTypes"/>) for the MoD layers, null = all text (nothing skips);
    /// cache: null for a plain forward, else as <see cref="forward(Tensor, Tensor?, KvCache)"/>; capture: records
    /// every layer's attention probabilities (plain forward only; null = none) -> final hidden states [B,T,D].</summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask, Tensor? tokenTypes, KvCache? cache,
        AttentionCapture? capture = null)
    {
        if (cache is not null && cache.LayerCount != layers.Count)
            throw new ArgumentException($"the cache has {cache.LayerCount} layers, the decoder {layers.Count}.");
        if (cache is not null && capture is not null)
            throw new ArgumentException("attention maps are captured on a forward without a KV cache.");
        if (capture is not null && capture.LayerCount != layers.Count)
            throw new ArgumentException($"the attention capture has {capture.LayerCount} layers, the decoder {layers.Count}.");
        using var scope = torch.NewDisposeScope();
        long b = inputsEmbeds.shape[0], t = inputsEmbeds.shape[1];
        var device = inputsEmbeds.device;
        var (positions, allowed) = cache is null                                   // [B,T], [B,1,T,S+T]
            ? (AttentionMask.PositionIds(b, t, attentionMask, device), AttentionMask.CausalWithPadding(b, t, attentionMask, device))
            : cache.BeginStep(b, t, attentionMask, device);
        var (cos, sin) = _rope.CosSin(positions);                                  // [B,T,d]
        var h = inputsEmbeds;                                                      // [B,T,D]
        for (var i = 0; i < layers.Count; i++)
            h = _mod[i] is { } mod
                ? mod.forward(h, tokenTypes, attentionMask, cache, i, capture)
                : layers[i].forward(h, cos, sin, allowed, cache, i, capture);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>Sum of the MoD routing losses of the last forward (see <see cref="ModLoss.RoutingLoss"/>).</summary>
    public Tensor ModRoutingLoss(Device? device = null) => ModLoss.RoutingLoss(ModLayers, device ?? embed_tokens.weight!.device);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var mod in _mod) mod?.Dispose();
        base.Dispose(disposing);
    }
}
