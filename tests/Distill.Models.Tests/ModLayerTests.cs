using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Mod;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>One gamma-MoD layer: routing decisions, the compacted computation, the routing loss.</summary>
public sealed class ModLayerTests : IDisposable
{
    private const long T = ModTokenTypes.Text, C = ModTokenTypes.Competing;
    private static readonly DecoderConfig Text = TinyConfig().Text;                   // D = 24, 4 heads of 6, 2 kv heads

    private readonly LlamaDecoderLayer _dense;
    private readonly ModRouter _router;
    private readonly RotaryEmbedding _rope = new(Text.HeadDim, Text.RopeTheta);

    public ModLayerTests()
    {
        torch.set_num_threads(1);
        torch.manual_seed(3);
        _dense = new LlamaDecoderLayer(Text);
        Init.HfInit(_dense);
        _router = new ModRouter(Text.HiddenSize);
    }

    public void Dispose()
    {
        _dense.Dispose();
        _router.Dispose();
    }

    private ModDecoderLayer Wrap(ModConfig config) => new(_dense, _router, config, _rope);

    private static Tensor Types(params long[][] rows) =>
        torch.tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);

    /// <summary>The dense layer over x [1,n,D] alone: positions 0..n-1, causal.</summary>
    private Tensor Dense(Tensor x)
    {
        long n = x.shape[1];
        var positions = AttentionMask.PositionIds(1, n, null, x.device);
        var (cos, sin) = _rope.CosSin(positions);
        return _dense.forward(x, cos, sin, AttentionMask.CausalWithPadding(1, n, null, x.device));
    }

    /// <summary>h = x + Attn(LN(x)) of the dense layer over x [1,n,D] alone.</summary>
    private Tensor DenseAttentionResidual(Tensor x)
    {
        long n = x.shape[1];
        var positions = AttentionMask.PositionIds(1, n, null, x.device);
        var (cos, sin) = _rope.CosSin(positions);
        var allowed = AttentionMask.CausalWithPadding(1, n, null, x.device);
        return x.add(_dense.SelfAttn.forward(_dense.InputLayernorm.forward(x), cos, sin, allowed), Scalars.One);
    }

    private static long[] Where(Tensor mask) => mask.nonzero().squeeze(1).data<long>().ToArray();

    [Fact]
    public void ProcessedTokensGoThroughTheLayerAsACompactedSequenceAndSkippedOnesPassUnchanged()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var mod = Wrap(new ModConfig([0], SkipRatio: 0.5));
        mod.ScaleMlpByRouter = false;
        var x = torch.randn(2, 8, 24);
        // Row 0: 4 competing tokens -> 2 kept; row 1: 2 competing -> 1 kept. Rows process 6 and 7 tokens.
        var types = Types([T, C, C, C, C, T, T, T], [T, C, T, T, C, T, T, T]);
        var plain = mod.forward(x, types, null, null, 0);                                  // [2,8,24]
        Assert.Equal(new long[] { 6, 7 }, mod.LastRouting!.Processed);
        Assert.Equal(new long[] { 4, 2 }, mod.LastRouting.Competing);
        Assert.Equal(new long[] { 2, 1 }, mod.LastRouting.CompetingProcessed);

        mod.ScaleMlpByRouter = true;
        var scaled = mod.forward(x, types, null, null, 0);
        var p = mod.LastProbabilities!;
        for (var b = 0; b < 2; b++)
        {
            var processed = Where(mod.LastProcessed![b]);
            var skipped = Where(mod.LastProcessed[b].logical_not());
            var index = torch.tensor(processed);
            var sub = x[b].index_select(0, index).unsqueeze(0);                            // [1,n,24]
            // Processed tokens: the dense layer over the processed tokens alone (positions 0..n-1).
            Assert.True(MaxAbsDiff(plain[b].index_select(0, index), Dense(sub)[0]) < 1e-5f);
            // Router-scaled MLP: h + MLP(LN(h)) * p, with h = x + Attn(LN(x)) over the same subsequence.
            var h = DenseAttentionResidual(sub)[0];                                        // [n,24]
            var mlp = Dense(sub)[0] - h;
            var expected = h.add(mlp * p[b].index_select(0, index).unsqueeze(1), Scalars.One);
            Assert.True(MaxAbsDiff(scaled[b].index_select(0, index), expected) < 1e-5f);
            // Skipped tokens: exactly the input.
            var skip = torch.tensor(skipped);
            Assert.Equal(0f, MaxAbsDiff(plain[b].index_select(0, skip), x[b].index_select(0, skip)));
            Assert.Equal(0f, MaxAbsDiff(scaled[b].index_select(0, skip), x[b].index_select(0, skip)));
        }
    }

    [Fact]
    public void TrainingKeepsTheTopOfEachRowsCompetingTokensByP()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var mod = Wrap(new ModConfig([0], SkipRatio: 0.3));
        var x = torch.randn(2, 9, 24);
        var types = Types([C, C, C, C, C, C, C, T, T], [T, C, C, C, C, C, C, C, T]);
        mod.forward(x, types, null, null, 0);
        var p = mod.LastProbabilities!;
        var processed = mod.LastProcessed!;
        for (var b = 0; b < 2; b++)
        {
            Assert.Equal(5, mod.LastRouting!.CompetingProcessed[b]);                      // ceil(0.7 * 7) = ceil(4.9)
            var competing = types[b].eq(Scalars.Of(C));
            var kept = p[b].masked_select(competing.logical_and(processed[b]));
            var dropped = p[b].masked_select(competing.logical_and(processed[b].logical_not()));
            Assert.True(kept.min().item<float>() >= dropped.max().item<float>());
        }
        Assert.Equal(new long[] { 7, 7 }, mod.LastRouting!.Processed);
    }

    [Fact]
    public void TextTokensAreAlwaysProcessedWhateverTheirScores()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        torch.manual_seed(5);
        _router.Weight.copy_(torch.randn(2, 24) * Scalars.Of(10L));                        // extreme scores
        var x = torch.randn(2, 10, 24);
        var types = Types([C, C, C, C, T, T, T, T, T, T], [T, T, C, C, C, C, T, T, T, T]);
        var text = types.eq(Scalars.Of(T));

        using var eval = Wrap(new ModConfig([0]));
        _dense.eval();
        var y = eval.forward(x, types, null, null, 0);
        var p = eval.LastProbabilities!;
        Assert.True(p.masked_select(text).lt(Scalars.Of(0.005)).any().item<bool>(), "some text token should score below the threshold");
        Assert.True(eval.LastProcessed!.masked_select(text).all().item<bool>());
        Assert.Equal(eval.LastProcessed.masked_select(types.eq(Scalars.Of(C))).data<bool>().ToArray(),
            p.masked_select(types.eq(Scalars.Of(C))).gt(Scalars.Of(0.005)).data<bool>().ToArray());
        Assert.True((y - x).abs().sum(-1).masked_select(text).gt(Scalars.Zero).all().item<bool>());   // text tokens changed

        using var skipAll = Wrap(new ModConfig([0], SkipRatio: 1.0));
        _dense.train();
        skipAll.forward(x, types, null, null, 0);
        Assert.Equal(text.data<bool>().ToArray(), skipAll.LastProcessed!.data<bool>().ToArray());
    }

    [Fact]
    public void RoutingLossMatchesTheHandComputedCrossEntropy()
    {
        using var scope = torch.NewDisposeScope();
        // Token i is 10 * e_i, so LN gives sqrt(24) * e_i and the router logits are sqrt(24) * W[:, i].
        // W[1, 0..2] = (ln 3, 0, -ln 3) / sqrt(24), W[0] = 0: p = 3/4, 1/2, 1/4 for the competing tokens 0..2.
        var x = (torch.eye(4, 24) * Scalars.Of(10L)).unsqueeze(0);                                       // [1,4,24]
        var types = Types([C, C, C, T]);
        using (torch.no_grad())
        {
            var w = new float[2 * 24];
            w[24 + 0] = (float)(Math.Log(3) / Math.Sqrt(24));
            w[24 + 2] = (float)(-Math.Log(3) / Math.Sqrt(24));
            _router.Weight.copy_(torch.tensor(w, [2, 24]));
        }

        // Training, skip 0.5: k = ceil(1.5) = 2 of 3 -> tokens 0 and 1 are processed (target 1), token 2 skips (target 0).
        using var mod = Wrap(new ModConfig([0], SkipRatio: 0.5));
        mod.forward(x, types, null, null, 0);
        Assert.Equal(new[] { 0.75f, 0.5f, 0.25f }, mod.LastProbabilities![0].narrow(0, 0, 3).data<float>().ToArray().Select(v => MathF.Round(v, 5)));
        Assert.Equal(new[] { true, true, false, true }, mod.LastProcessed![0].data<bool>().ToArray());
        var expected = -(Math.Log(0.75) + Math.Log(0.5) + Math.Log(0.75)) / 3;
        Assert.Equal(expected, mod.LastRoutingLoss!.item<float>(), 5);

        // Eval: every competing p exceeds 0.005, so all are processed: targets (1, 1, 1).
        _dense.eval();
        mod.forward(x, types, null, null, 0);
        Assert.Equal(-(Math.Log(0.75) + Math.Log(0.5) + Math.Log(0.25)) / 3, mod.LastRoutingLoss!.item<float>(), 5);

        // Nothing competes: the loss is 0.
        mod.forward(x, Types([T, T, T, T]), null, null, 0);
        Assert.Equal(0f, mod.LastRoutingLoss!.item<float>());
    }

    [Fact]
    public void RowsWithFewerProcessedTokensAndPaddingMatchEachRowAlone()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var mod = Wrap(new ModConfig([0], SkipRatio: 0.5));
        var x = torch.randn(2, 7, 24);
        // Row 1 is left-padded by 2 (its first two positions are padding).
        var types = Types([T, C, C, C, C, T, T], [T, T, T, C, C, T, T]);
        var mask = torch.tensor(new long[] { 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1 }, [2, 7]);
        var batch = mod.forward(x, types, mask, null, 0);
        var batchProcessed = mod.LastProcessed!.clone();
        // Row 1 alone, unpadded.
        var alone = mod.forward(x[1].narrow(0, 2, 5).unsqueeze(0), types[1].narrow(0, 2, 5).unsqueeze(0), null, null, 0);
        Assert.Equal(batchProcessed[1].narrow(0, 2, 5).data<bool>().ToArray(), mod.LastProcessed![0].data<bool>().ToArray());
        Assert.True(MaxAbsDiff(batch[1].narrow(0, 2, 5), alone[0]) < 1e-5f);
        Assert.Equal(new long[] { 5, 6 }, new[] { batchProcessed[0].sum().item<long>(), batchProcessed[1].sum().item<long>() });
    }
}
