using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Mod;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>A MoD layer under no_grad (inference) skips the routing loss in its forward; the loss is computed from the
/// kept router logits when asked for, with the same value as a forward with gradients.</summary>
public sealed class ModInferenceTests : IDisposable
{
    private const long T = ModTokenTypes.Text, C = ModTokenTypes.Competing;
    private static readonly DecoderConfig Text = TinyConfig().Text;

    private readonly LlamaDecoderLayer _dense;
    private readonly ModRouter _router;
    private readonly RotaryEmbedding _rope = new(Text.HeadDim, Text.RopeTheta);

    public ModInferenceTests()
    {
        torch.set_num_threads(1);
        torch.manual_seed(5);
        _dense = new LlamaDecoderLayer(Text);
        Init.HfInit(_dense);
        _router = new ModRouter(Text.HiddenSize);
        // Token i is 10 * e_i, so LN gives sqrt(24) * e_i: p = 3/4, 1/2, 1/4 for tokens 0..2 (as in ModLayerTests).
        using var noGrad = torch.no_grad();
        var w = new float[2 * 24];
        w[24 + 0] = (float)(Math.Log(3) / Math.Sqrt(24));
        w[24 + 2] = (float)(-Math.Log(3) / Math.Sqrt(24));
        _router.Weight.copy_(torch.tensor(w, [2, 24]));
    }

    public void Dispose()
    {
        _dense.Dispose();
        _router.Dispose();
    }

    [Fact]
    public void TheRoutingLossOfAnInferenceForwardIsComputedOnDemandWithTheSameValue()
    {
        using var scope = torch.NewDisposeScope();
        var x = (torch.eye(4, 24) * Scalars.Of(10L)).unsqueeze(0);                                       // [1,4,24]
        var types = torch.tensor(new[] { C, C, C, T }, [1, 4]);
        using var mod = new ModDecoderLayer(_dense, _router, new ModConfig([0], SkipRatio: 0.5), _rope);

        mod.forward(x, types, null, null, 0);                                               // with grad: eager
        var eager = mod.LastRoutingLoss!.item<float>();
        Assert.True(mod.LastRoutingLoss!.requires_grad);
        Assert.Equal(-(Math.Log(0.75) + Math.Log(0.5) + Math.Log(0.75)) / 3, eager, 5);      // tokens 0, 1 kept

        using (torch.no_grad())
        {
            var y = mod.forward(x, types, null, null, 0);
            Assert.Equal(eager, mod.LastRoutingLoss!.item<float>(), 6);
            Assert.False(mod.LastRoutingLoss!.requires_grad);
            // The next inference forward replaces it: with nothing competing the loss is 0.
            mod.forward(x, torch.tensor(new[] { T, T, T, T }, [1, 4]), null, null, 0);
            Assert.Equal(0f, mod.LastRoutingLoss!.item<float>());
            Assert.Equal(new long[] { 1, 4, 24 }, y.shape);
        }
        // ModLoss sums what each layer reports, computed or not yet.
        using (torch.no_grad()) mod.forward(x, types, null, null, 0);
        Assert.Equal(eager, ModLoss.RoutingLoss([mod]).item<float>(), 6);
    }
}
