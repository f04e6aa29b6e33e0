using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Mod;

/// <summary>gamma-MoD layer (DESIGN 5.4): a <see cref="LlamaDecoderLayer"/> whose tokens either go through it or
/// skip it through the residual (output = input), as the shared <see cref="ModRouter"/> decides.
/// <para>Per token, n = input_layernorm(x), p = softmax(router(n))[1] = P(process); <see cref="ModSelection.Processed"/>
/// picks the processed tokens from p and the token types. The processed tokens of each row are gathered, in their
/// order, into a compacted sequence of width P = the largest processed count of the batch (shorter rows are filled
/// with placeholders that are never attended to) and run through the wrapped layer:
/// <c>h = x + Attn(n)</c>, causal over the processed tokens only, then <c>y = h + MLP(LN(h)) * p</c>; the results
/// are scattered back. Positions are compacted: the i-th processed real token of a row has position id i, as if
/// the skipped tokens were not in the sequence (the alternative, keeping original position ids, would leave gaps
/// in RoPE distances that the dense model never saw; with nothing skipped both agree).</para>
/// <para>With a KV cache the layer keeps positions of its own (<see cref="KvCache.BeginLayerStep"/>): a skipped
/// token adds no key/value, so in cached decoding a new token that skips (p &lt; decode threshold) leaves this
/// layer's cache as it was, and a processed one attends to the processed tokens before it.</para>
/// <para>This is not a module: it holds no parameters. It is the layer's route (<see cref="LlamaModel.SetRoute"/>);
/// the wrapped layer stays registered as <c>model.layers.N</c> (a converted checkpoint keeps its names) and the router
/// once as <c>model.mod_router</c>; the wrapper follows the train/eval mode of the wrapped layer.</para></summary>
public sealed class ModDecoderLayer : IDecoderLayerRoute, IDisposable
{
    private readonly RotaryEmbedding _rope;
    private Tensor? _routingLoss;
    private Tensor? _lossLogits;     // under no_grad: the routing loss's inputs, computed only when asked for
    private Tensor? _lossCompeting;
    private Tensor? _probabilities;
    private Tensor? _processed;

    public ModDecoderLayer(LlamaDecoderLayer layer, ModRouter router, ModConfig config, RotaryEmbedding rope)
    {
        Layer = layer;
        Router = router;
        Config = config;
        _rope = rope;
    }

    /// <summary>The wrapped decoder layer (its parameters and mode).</summary>
    public LlamaDecoderLayer Layer { get; }

    /// <summary>The router shared by every MoD layer of the decoder.</summary>
    public ModRouter Router { get; }

    public ModConfig Config { get; }

    /// <summary>Whether the MLP output is scaled by p (the default, DESIGN 5.4: <c>MLP(LN(h)) * p</c>, which lets the
    /// router learn from the task loss). Off, a processed token goes through the plain dense layer.</summary>
    public bool ScaleMlpByRouter { get; set; } = true;

    public bool Training => Layer.training;

    /// <summary>Routing loss of the last forward (<see cref="ModSelection.RoutingLoss"/>; scalar float32, in the
    /// autograd graph when grads were on); owned by this layer, replaced by the next forward; null before one.
    /// A forward under no_grad (inference) does not compute it: it is computed from the kept router logits on the
    /// first read.</summary>
    public Tensor? LastRoutingLoss
    {
        get
        {
            if (_routingLoss is null && _lossLogits is not null)
            {
                using var noGrad = torch.no_grad();
                _routingLoss = ModSelection.RoutingLoss(_lossLogits, _lossCompeting!, _processed!).DetachFromDisposeScope();
                DisposeLossInputs();
            }
            return _routingLoss;
        }
    }

    /// <summary>p = P(process) of the last forward [B,T] float32, detached; owned by this layer.</summary>
    public Tensor? LastProbabilities => _probabilities;

    /// <summary>Tokens the last forward processed [B,T] bool; owned by this layer.</summary>
    public Tensor? LastProcessed => _processed;

    /// <summary>Routing statistics of the last forward; null before one.</summary>
    public ModRouting? LastRouting { get; private set; }

    /// <summary>x [B,T,D]; tokenTypes [B,T] int64 (<see cref="ModTokenTypes"/>; null = all text); keyMask [B,T]
    /// (1 real, 0 pad; null = all real); with a cache, x holds this step's new positions and the layer reads and
    /// extends its own part of layer <paramref name="layer"/> of the cache; capture records the attention map
    /// (over original positions). -> [B,T,D].</summary>
    public Tensor Forward(Tensor hidden, DecoderStep step, int layer) =>
        forward(hidden, step.RoutingHints, step.KeyMask, step.Cache, layer, step.Capture);

    /// <inheritdoc cref="Forward"/>
    public Tensor forward(Tensor x, Tensor? tokenTypes, Tensor? keyMask, KvCache? cache, int layer, AttentionCapture? capture = null)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], t = x.shape[1], d = x.shape[2];
        var device = x.device;

        // Route: p = P(process) from the normalised hidden state.
        var normed = Layer.InputLayernorm.forward(x);                                         // [B,T,D]
        var logits = Router.forward(normed);                                                  // [B,T,2] float32
        var p = ModRouter.ProcessProbability(logits);                                         // [B,T]
        var real = keyMask is null
            ? torch.ones(b, t, dtype: ScalarType.Bool, device: device)
            : keyMask.to(device).ne(Scalars.Zero);                                            // [B,T]
        var types = tokenTypes?.to(device) ?? torch.zeros(b, t, dtype: ScalarType.Int64, device: device);
        var competing = types.eq(Scalars.Of(ModTokenTypes.Competing)).logical_and(real);      // [B,T]
        var processed = ModSelection.Processed(p, types, real, Config, Training);             // [B,T] bool
        // The routing loss is only needed for training; under no_grad its inputs are kept and it is computed on demand.
        var loss = torch.is_grad_enabled() ? ModSelection.RoutingLoss(logits, competing, processed) : null; // []

        var counts = torch.stack([processed.sum(1), competing.sum(1), competing.logical_and(processed).sum(1)])
            .cpu().data<long>().ToArray();                                                    // [3*B]
        Remember(loss, loss is null ? (logits, competing) : null, p, processed, counts, (int)b);
        var processedPerRow = counts.Take((int)b).ToArray();
        long width = processedPerRow.Max();

        // Compact: processed tokens first, in order; placeholders after them. index [B,P]: original positions.
        Tensor? index = null;
        Tensor xc = x, nc = normed, pc = p, valid, keys;                                      // [B,P,...]
        if (processedPerRow.All(c => c == t))
        {
            valid = torch.ones(b, t, dtype: ScalarType.Bool, device: device);
            keys = real;
        }
        else
        {
            var arange = Scalars.Arange(t, device).unsqueeze(0).expand(b, t);                 // [B,T]
            using var shift = t.ToScalar();
            index = torch.where(processed, arange, arange.add(shift, Scalars.One)).argsort(1).narrow(1, 0, width); // [B,P]
            var rowCounts = torch.tensor(processedPerRow, device: device);                      // [B]
            valid = Scalars.Arange(width, device).unsqueeze(0)
                .lt(rowCounts.unsqueeze(1));                                                    // [B,P]
            var byToken = index.unsqueeze(-1).expand(b, width, d);                              // [B,P,D]
            xc = x.gather(1, byToken);
            nc = normed.gather(1, byToken);
            pc = p.gather(1, index);
            keys = valid.logical_and(real.gather(1, index));                                   // [B,P]
        }
        var keyMaskC = keys.to_type(ScalarType.Int64);                                         // [B,P]

        if (width == 0)
        {
            if (cache is not null) cache.BeginLayerStep(layer, keyMaskC);                      // registers nothing
            return x.alias().MoveToOuterDisposeScope();
        }

        // Attention among the processed tokens (compacted positions), then the router-scaled MLP.
        var (positions, allowed) = cache is null
            ? (AttentionMask.PositionIds(b, width, keyMaskC, device), AttentionMask.CausalWithPadding(b, width, keyMaskC, device))
            : cache.BeginLayerStep(layer, keyMaskC);                                            // [B,P], [B,1,P,S_l+P]
        var (cos, sin) = _rope.CosSin(positions);                                              // [B,P,d]
        var h = xc.add(Layer.SelfAttn.forward(nc, cos, sin, allowed, cache, layer, capture), Scalars.One); // [B,P,D]
        var m = Layer.Mlp.forward(Layer.PostAttentionLayernorm.forward(h));                     // [B,P,D]
        var y = h.add(ScaleMlpByRouter ? m * pc.unsqueeze(-1).to_type(m.dtype) : m, Scalars.One); // [B,P,D]

        if (index is null) return y.MoveToOuterDisposeScope();
        if (capture is not null) capture.Uncompact(layer, index, valid, t);
        // Scatter back. A placeholder slot points at a skipped token (the index is a permutation) and carries that
        // token's input, so skipped tokens keep x exactly; selecting on the [B,P,D] slots spares a pass over [B,T,D].
        var slots = torch.where(valid.unsqueeze(-1), y, xc);                                   // [B,P,D]
        return x.scatter(1, index.unsqueeze(-1).expand(b, width, d), slots).MoveToOuterDisposeScope(); // [B,T,D]
    }

    private void Remember(Tensor? loss, (Tensor Logits, Tensor Competing)? lossInputs, Tensor p, Tensor processed, long[] counts, int b)
    {
        _routingLoss?.Dispose();
        _probabilities?.Dispose();
        _processed?.Dispose();
        DisposeLossInputs();
        _routingLoss = loss?.DetachFromDisposeScope();
        if (lossInputs is { } inputs)
        {
            _lossLogits = inputs.Logits.detach().DetachFromDisposeScope();
            _lossCompeting = inputs.Competing.alias().DetachFromDisposeScope();
        }
        _probabilities = p.detach().DetachFromDisposeScope();
        _processed = processed.alias().DetachFromDisposeScope();
        LastRouting = new ModRouting(counts[..b], counts[b..(2 * b)], counts[(2 * b)..]);
    }

    private void DisposeLossInputs()
    {
        _lossLogits?.Dispose();
        _lossCompeting?.Dispose();
        _lossLogits = _lossCompeting = null;
    }

    public void Dispose()
    {
        DisposeLossInputs();
        _routingLoss?.Dispose();
        _probabilities?.Dispose();
        _processed?.Dispose();
        _routingLoss = _probabilities = _processed = null;
    }
}
