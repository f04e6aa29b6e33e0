using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>The decoder stack (HF <c>LlamaModel</c>): token embedding, N decoder layers, final RMSNorm. Extensions
/// install themselves without the decoder knowing them: an MoE block replaces a layer's FFN
/// (<see cref="LlamaDecoderLayer.ReplaceFeedForward"/>), a gamma-MoD layer takes over a layer's forward
/// (<see cref="SetRoute"/>) and registers its shared router (<see cref="Attach"/>).</summary>
public sealed class LlamaModel : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly Embedding embed_tokens;
    private readonly ModuleList<LlamaDecoderLayer> layers;
    private readonly LlamaRmsNorm norm;
    private readonly IDecoderLayerRoute?[] _routes; // per layer: a forward that takes its place, or null
    private readonly RotaryEmbedding _rope;
    private readonly int? _slidingWindow;

    public LlamaModel(DecoderConfig config, Placement? placement = null) : base(nameof(LlamaModel))
    {
        embed_tokens = placement.Embedding(config.VocabSize, config.HiddenSize);
        layers = new ModuleList<LlamaDecoderLayer>(
            Enumerable.Range(0, config.Layers).Select(_ => new LlamaDecoderLayer(config, placement)).ToArray());
        norm = new LlamaRmsNorm(config.HiddenSize, config.RmsNormEps, placement);
        _rope = new RotaryEmbedding(config.HeadDim, config.RopeTheta, config.RopeScaling, config.MaxPositions);
        _slidingWindow = config.SlidingWindow;
        _routes = new IDecoderLayerRoute?[config.Layers];
        RegisterComponents();
    }

    public Embedding EmbedTokens => embed_tokens;

    /// <summary>The decoder layers (a routed layer keeps its weights here).</summary>
    public ModuleList<LlamaDecoderLayer> Layers => layers;

    public RotaryEmbedding Rope => _rope;

    /// <summary>Keys a query may attend to (<see cref="DecoderConfig.SlidingWindow"/>); null = all earlier ones.</summary>
    public int? SlidingWindow => _slidingWindow;

    /// <summary>Per layer, the forward that takes its place, or null.</summary>
    public IReadOnlyList<IDecoderLayerRoute?> Routes => _routes;

    /// <summary>Makes <paramref name="route"/> run layer <paramref name="layer"/> (null: the layer's own forward).</summary>
    public void SetRoute(int layer, IDecoderLayerRoute? route) => _routes[layer] = route;

    /// <summary>Registers a module of an extension under this decoder (e.g. <c>mod_router</c>), so it is saved, loaded
    /// and moved with the model.</summary>
    public void Attach(string name, nn.Module module) => register_module(name, module);

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
    /// routingHints [B,T] int64 for routed layers (null = none); cache: null for a plain forward, else as
    /// <see cref="forward(Tensor, Tensor?, KvCache)"/>; capture: records every layer's attention probabilities (plain
    /// forward only; null = none) -> final hidden states [B,T,D].</summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask, Tensor? routingHints, KvCache? cache,
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
            ? (AttentionMask.PositionIds(b, t, attentionMask, device),
               AttentionMask.CausalWithPadding(b, t, attentionMask, device, _slidingWindow))
            : cache.BeginStep(b, t, attentionMask, device);
        var (cos, sin) = _rope.CosSin(positions);                                  // [B,T,d]
        var step = new DecoderStep(cos, sin, allowed, attentionMask, routingHints, cache, capture, _rope);
        var h = inputsEmbeds;                                                      // [B,T,D]
        for (var i = 0; i < layers.Count; i++)
            h = _routes[i] is { } route
                ? route.Forward(h, step, i)
                : layers[i].forward(h, cos, sin, allowed, cache, i, capture);
        return norm.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>A KV cache for this decoder; capacity in positions.</summary>
    public KvCache NewKvCache(long capacity = 0) => new(layers.Count, capacity, _slidingWindow);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
            foreach (var route in _routes) (route as IDisposable)?.Dispose();
        base.Dispose(disposing);
    }
}
