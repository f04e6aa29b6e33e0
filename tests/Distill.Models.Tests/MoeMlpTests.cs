using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Moe;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>The MoE FFN on its own: routing, gates, capacity, aux loss, gradients.</summary>
public sealed class MoeMlpTests
{
    private static MoeMlp Moe(long hidden, long intermediate, MoeConfig config, long seed = 1)
    {
        torch.set_num_threads(1);
        torch.manual_seed(seed);
        return new MoeMlp(hidden, intermediate, config);
    }

    private static void SetRouter(MoeMlp moe, float[,] weight)
    {
        using var noGrad = torch.no_grad();
        using var w = torch.tensor(weight);
        moe.Gate.weight!.copy_(w);
    }

    /// <summary>Per-token reference: out_t = sum over kept slots of g * expert(x_t), gates from the router by hand.
    /// <paramref name="dropped"/> lists (token, expert) assignments to leave out.</summary>
    private static Tensor Reference(MoeMlp moe, Tensor flat, (long Token, long Expert)[] dropped)
    {
        var k = moe.Config.TopK;
        var probs = nn.functional.softmax(flat.matmul(moe.Gate.weight!.t()), -1);          // [N,E]
        var rows = new List<Tensor>();
        for (long t = 0; t < flat.shape[0]; t++)
        {
            var (values, indices) = probs[t].topk(k);
            var gates = values / values.sum();
            var xt = flat[t].unsqueeze(0);
            var y = torch.zeros_like(xt);
            for (var j = 0; j < k; j++)
            {
                var e = indices[j].item<long>();
                if (dropped.Contains((t, e))) continue;
                y = y.add(gates[j] * moe.Experts[(int)e].forward(xt), Scalars.One);
            }
            rows.Add(y);
        }
        return torch.cat(rows, 0);
    }

    [Fact]
    public void UpcycledIdenticalExpertsEqualTheDenseFfn()
    {
        torch.set_num_threads(1);
        torch.manual_seed(3);
        using var dense = new LlamaMlp(8, 16);
        using var moe = MoeMlp.Upcycle(dense, new MoeConfig(Experts: 4, TopK: 2, EvalCapacityFactor: 2.0));
        moe.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = torch.randn(2, 5, 8);
        var y = moe.forward(x);
        Assert.Equal(new long[] { 2, 5, 8 }, y.shape);
        Assert.True(MaxAbsDiff(dense.forward(x), y) < 1e-6f);
        Assert.Equal(0, moe.LastRouting!.Dropped);
        Assert.Equal(10 * 2, moe.LastRouting.Kept.Sum());
        for (var e = 0; e < 4; e++)
        {
            // Mixtral's names: w1 = gate_proj, w3 = up_proj, w2 = down_proj.
            Assert.Equal(0f, MaxAbsDiff(dense.GateProj.weight!, moe.Experts[e].W1.weight!));
            Assert.Equal(0f, MaxAbsDiff(dense.UpProj.weight!, moe.Experts[e].W3.weight!));
            Assert.Equal(0f, MaxAbsDiff(dense.DownProj.weight!, moe.Experts[e].W2.weight!));
        }
        Assert.Equal(new long[] { 4, 8 }, moe.Gate.weight!.shape);
        var std = moe.Gate.weight!.std().item<float>();
        Assert.InRange(std, 0.01f, 0.03f);                                                  // N(0, 0.02)
    }

    [Fact]
    public void AuxLossMatchesHandComputedCase()
    {
        // E = 3, k = 1, router W = [[1,0],[0,1],[0,0]]: logits (x0, x1, 0), so probs = (e^x0, e^x1, 1) / sum.
        //   t0 x = (ln 6, ln 3):     (6, 3, 1)/10    = (0.60, 0.30, 0.10)  top-1 = 0
        //   t1 x = (ln 2, ln 7):     (2, 7, 1)/10    = (0.20, 0.70, 0.10)  top-1 = 1
        //   t2 x = (0,    ln 2):     (1, 2, 1)/4     = (0.25, 0.50, 0.25)  top-1 = 1
        //   t3 x = (ln .5, ln .5):   (.5, .5, 1)/2   = (0.25, 0.25, 0.50)  top-1 = 2
        // f = (1/4, 2/4, 1/4); P = (1.30, 1.75, 0.95) / 4 = (0.325, 0.4375, 0.2375)
        // aux = 3 * (0.25*0.325 + 0.5*0.4375 + 0.25*0.2375) = 3 * 0.359375 = 1.078125
        using var moe = Moe(2, 4, new MoeConfig(Experts: 3, TopK: 1, EvalCapacityFactor: 3.0));
        moe.eval();
        SetRouter(moe, new float[,] { { 1, 0 }, { 0, 1 }, { 0, 0 } });
        using var scope = torch.NewDisposeScope();
        var x = torch.tensor(new[]
        {
            MathF.Log(6), MathF.Log(3), MathF.Log(2), MathF.Log(7),
            0f, MathF.Log(2), MathF.Log(0.5f), MathF.Log(0.5f),
        }, [2, 2, 2]);                                                                       // [B=2,T=2,D=2]
        moe.forward(x);
        Assert.Equal(1.078125f, moe.LastAuxLoss!.item<float>(), 5);
        Assert.Equal(new long[] { 1, 2, 1 }, moe.LastRouting!.Assigned);
        Assert.Equal(4, moe.LastRouting.Tokens);
        Assert.Equal(4, moe.LastRouting.Capacity);                                          // ceil(1 * 3.0 * 4 / 3)
        Assert.Equal(0, moe.LastRouting.Dropped);
    }

    [Fact]
    public void CapacityOverflowDropsTheLaterTokensInTokenOrder()
    {
        // E = 3, k = 2, train cf = 1: C = ceil(2 * 1 * 6 / 3) = 4. The router puts expert 0 in every token's top 2
        // (logit 5 from the constant feature), the second expert alternates 1, 2: expert 0 gets 6 assignments,
        // keeps tokens 0..3 and drops tokens 4 and 5 (which keep their other expert).
        using var moe = Moe(4, 8, new MoeConfig(Experts: 3, TopK: 2, TrainCapacityFactor: 1.0), seed: 5);
        moe.train();
        SetRouter(moe, new float[,] { { 5, 0, 0, 0 }, { 0, 1, 0, 0 }, { 0, 0, 1, 0 } });
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var flat = torch.tensor(new float[]
        {
            1, 1, -1, 0.3f,
            1, -1, 1, -0.7f,
            1, 1, -1, 0.9f,
            1, -1, 1, 0.1f,
            1, 1, -1, -0.4f,
            1, -1, 1, 0.5f,
        }, [6, 4]);
        var y = moe.forward(flat.reshape(2, 3, 4)).reshape(6, 4);                          // B=2, T=3: row-major order
        var routing = moe.LastRouting!;
        Assert.Equal(4, routing.Capacity);
        Assert.Equal(new long[] { 6, 3, 3 }, routing.Assigned);
        Assert.Equal(new long[] { 4, 3, 3 }, routing.Kept);
        Assert.Equal(2, routing.Dropped);

        var expected = Reference(moe, flat, [(4, 0), (5, 0)]);
        Assert.True(MaxAbsDiff(expected, y) < 1e-6f);
        var undropped = Reference(moe, flat, []);
        Assert.True(MaxAbsDiff(undropped.narrow(0, 0, 4), y.narrow(0, 0, 4)) < 1e-6f);    // tokens 0..3 complete
        Assert.True(MaxAbsDiff(undropped.narrow(0, 4, 2), y.narrow(0, 4, 2)) > 1e-3f);    // tokens 4, 5 lost expert 0
        // Token 4 = only its second expert (1), weighted by its renormalised gate.
        var probs = nn.functional.softmax(flat[4].matmul(moe.Gate.weight!.t()), -1);
        var g1 = (probs[1] / probs[0].add(probs[1], Scalars.One)).item<float>();
        using var gate1 = g1.ToScalar();
        var alone = moe.Experts[1].forward(flat[4].unsqueeze(0)) * gate1;
        Assert.True(MaxAbsDiff(alone, y.narrow(0, 4, 1)) < 1e-6f);
    }

    [Fact]
    public void TopTwoGatesRenormaliseToOne()
    {
        using var moe = Moe(6, 12, new MoeConfig(Experts: 4, TopK: 2, EvalCapacityFactor: 2.0), seed: 7);
        moe.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using (torch.no_grad()) nn.init.normal_(moe.Gate.weight!, 0, 1);                   // decisive routing
        var flat = torch.randn(8, 6);
        var y = moe.forward(flat.unsqueeze(0)).squeeze(0);                                  // [8,6]
        var probs = nn.functional.softmax(flat.matmul(moe.Gate.weight!.t()), -1);           // [8,4]
        for (long t = 0; t < 8; t++)
        {
            var (p, idx) = probs[t].topk(2);
            float p1 = p[0].item<float>(), p2 = p[1].item<float>();
            float g1 = p1 / (p1 + p2), g2 = p2 / (p1 + p2);
            Assert.Equal(1f, g1 + g2, 6);
            Assert.True(g1 < 1f && g2 > 0f);
            var xt = flat[t].unsqueeze(0);
            using Scalar gate1 = g1.ToScalar(), gate2 = g2.ToScalar();
            var manual = (moe.Experts[(int)idx[0].item<long>()].forward(xt) * gate1)
                         .add(moe.Experts[(int)idx[1].item<long>()].forward(xt) * gate2, Scalars.One);
            Assert.True(MaxAbsDiff(manual, y[t].unsqueeze(0)) < 1e-6f);
        }
        Assert.Equal(16, moe.LastRouting!.Kept.Sum());
    }

    [Fact]
    public void GradientsReachTheRouterAndEveryExpertThatReceivedTokens()
    {
        using var moe = Moe(6, 12, new MoeConfig(Experts: 4, TopK: 2), seed: 11);
        moe.train();
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(2, 8, 6);
        var loss = moe.forward(x).pow(Scalars.Of(2L)).sum().add(Scalars.Of(0.01) * moe.LastAuxLoss!, Scalars.One);
        loss.backward();
        Assert.True(moe.Gate.weight!.grad!.abs().sum().item<float>() > 0f);
        var kept = moe.LastRouting!.Kept;
        Assert.All(kept, n => Assert.True(n > 0));                                          // this seed feeds all 4
        for (var e = 0; e < 4; e++)
            foreach (var w in new[] { moe.Experts[e].W1.weight!, moe.Experts[e].W3.weight!, moe.Experts[e].W2.weight! })
                Assert.True(w.grad!.abs().sum().item<float>() > 0f, $"expert {e} has no gradient");
    }

    [Fact]
    public void AuxLossAloneTrainsTheRouter()
    {
        using var moe = Moe(6, 12, new MoeConfig(Experts: 4, TopK: 2), seed: 12);
        using var scope = torch.NewDisposeScope();
        moe.forward(torch.randn(1, 8, 6));
        moe.LastAuxLoss!.backward();
        Assert.True(moe.Gate.weight!.grad!.abs().sum().item<float>() > 0f);
        Assert.Null(moe.Experts[0].W2.weight!.grad);
    }

    [Fact]
    public void TrainAndEvalUseTheirOwnCapacityFactors()
    {
        // E = 4, k = 2, N = 10 tokens: train C = ceil(2 * 1.0 * 10 / 4) = 5, eval C = ceil(2 * 2.0 * 10 / 4) = 10.
        using var moe = Moe(4, 8, new MoeConfig(Experts: 4, TopK: 2, TrainCapacityFactor: 1.0, EvalCapacityFactor: 2.0));
        SetRouter(moe, new float[,] { { 5, 0, 0, 0 }, { 3, 0, 0, 0 }, { 0, 0, 0, 0 }, { 0, 0, 0, 0 } });
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var x = torch.cat([torch.ones(1, 10, 1), torch.randn(1, 10, 3) * Scalars.Of(0.1)], 2); // all pick experts 0 and 1
        moe.train();
        Assert.Equal(5, moe.Capacity(10));
        var yTrain = moe.forward(x);
        Assert.Equal(5, moe.LastRouting!.Capacity);
        Assert.Equal(new long[] { 10, 10, 0, 0 }, moe.LastRouting.Assigned);
        Assert.Equal(new long[] { 5, 5, 0, 0 }, moe.LastRouting.Kept);
        Assert.Equal(10, moe.LastRouting.Dropped);
        Assert.Equal(0f, yTrain.narrow(1, 5, 5).abs().max().item<float>());                // tokens 5..9: both dropped

        moe.eval();
        Assert.Equal(10, moe.Capacity(10));
        var yEval = moe.forward(x);
        Assert.Equal(10, moe.LastRouting!.Capacity);
        Assert.Equal(0, moe.LastRouting.Dropped);
        Assert.True(MaxAbsDiff(yTrain.narrow(1, 0, 5), yEval.narrow(1, 0, 5)) < 1e-6f);
        Assert.True(yEval.narrow(1, 5, 5).abs().max().item<float>() > 0f);
    }

    [Theory]
    [InlineData(2, 1.5, 10, 4, 8)]      // 7.5 -> 8
    [InlineData(2, 2.0, 10, 4, 10)]
    [InlineData(2, 1.1, 25, 1, 55)]     // 55.00000000000001 in doubles -> 55
    [InlineData(2, 1.0, 1, 4, 1)]       // a single decode token still fits
    [InlineData(2, 0.0, 10, 4, 10)]     // capacity factor 0: no capacity, every token reaches its experts
    public void CapacityIsTheCeilingOfKTimesCfTimesTokensOverE(int k, double cf, long tokens, int experts, int expected) =>
        Assert.Equal(expected, MoeMlp.Capacity(k, cf, tokens, experts));

    [Fact]
    public void TrainingStepsLeaveNoLiveTensorsBehind()
    {
        using var moe = Moe(6, 12, new MoeConfig(Experts: 4, TopK: 2));
        using var x = torch.randn(2, 4, 6);
        void Step()
        {
            using var scope = torch.NewDisposeScope();
            var loss = moe.forward(x).sum().add(moe.LastAuxLoss!, Scalars.One);               // aux of this forward
            loss.backward();
        }
        Step();                                                                             // warm-up: grads, aux
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (var i = 0; i < 3; i++) Step();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.NotNull(moe.LastAuxLoss);                                                    // the one kept tensor
    }
}
