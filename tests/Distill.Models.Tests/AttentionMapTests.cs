using Distill.Models.Generation;
using Distill.Models.Torch;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Mod;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>Attention maps of a prefill forward (for ARank): shape, normalisation, causality, and the value of
/// softmax(QK^T / sqrt(d)) recomputed by hand.</summary>
public class AttentionMapTests
{
    [Fact]
    public void MapsAreCausalRowNormalisedAndEqualTheHandComputedSoftmax()
    {
        using var model = Tiny(seed: 61);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(2, 62);
        var ids = Ids(Prompt(5, 6, 7), Prompt(8, 9, 10));                                   // [2,8]
        var maps = model.AttentionMaps(pixels, ids);
        Assert.Equal(2, maps.Count);
        foreach (var map in maps)
        {
            Assert.Equal(new long[] { 2, 4, 8, 8 }, map.shape);
            Assert.Equal(ScalarType.Float32, map.dtype);
            Assert.True(MaxAbsDiff(map.sum(-1), torch.ones(2, 4, 8)) < 1e-5f);             // rows sum to 1
            Assert.Equal(0f, map.triu(1).abs().max().item<float>());                        // nothing above the diagonal
            Assert.True(map.diagonal(0, -2, -1).gt(Scalars.Zero).all().item<bool>());
        }

        // Layer 0 by hand: q, k from the normalised embeddings, RoPE at positions 0..7, GQA repeat, causal softmax.
        using var noGrad = torch.no_grad();
        var text = model.Config.Text;
        var layer = model.LanguageModel.Model.Layers[0];
        var n = layer.InputLayernorm.forward(model.EmbedInputs(model.EncodeImages(pixels), ids)); // [2,8,24]
        var q = layer.SelfAttn.QProj.forward(n).view(2, 8, text.Heads, text.HeadDim).transpose(1, 2);   // [2,4,8,6]
        var k = layer.SelfAttn.KProj.forward(n).view(2, 8, text.KvHeads, text.HeadDim).transpose(1, 2); // [2,2,8,6]
        var (cos, sin) = new RotaryEmbedding(text.HeadDim, text.RopeTheta).CosSin(Scalars.Arange(8).unsqueeze(0).expand(2, 8));
        q = RotaryEmbedding.Apply(q, cos, sin);
        k = LlamaAttention.RepeatKv(RotaryEmbedding.Apply(k, cos, sin), text.Heads / text.KvHeads);
        var scores = q.matmul(k.transpose(-2, -1)) / Scalars.Of(Math.Sqrt(text.HeadDim));   // [2,4,8,8]
        var future = torch.ones(8, 8, dtype: ScalarType.Bool).triu(1);
        var byHand = scores.masked_fill(future, Scalars.Of(float.NegativeInfinity)).softmax(-1);
        Assert.True(MaxAbsDiff(maps[0], byHand) < 1e-5f);
    }

    [Fact]
    public void PaddingKeysGetNoWeight()
    {
        using var model = Tiny(seed: 63);
        using var scope = torch.NewDisposeScope();
        var (ids, mask) = model.LeftPad(new[] { Prompt(5, 6, 7), Prompt(8) }.Select(p => (IReadOnlyList<int>)p).ToList(), Pad);
        var map = model.AttentionMaps(Pixels(2, 64), ids, mask)[1];                          // [2,4,8,8]
        Assert.Equal(0f, map[1].narrow(-1, 0, 2).abs().max().item<float>());               // row 1: 2 pads in front
        Assert.True(MaxAbsDiff(map[1].narrow(1, 2, 6).sum(-1), torch.ones(4, 6)) < 1e-5f);  // its real queries
        Assert.Equal(0f, map[1].narrow(1, 0, 2).abs().max().item<float>());                 // pad queries: nothing
        Assert.True(MaxAbsDiff(map[0].sum(-1), torch.ones(4, 8)) < 1e-5f);                  // row 0: no padding
    }

    [Fact]
    public void ModLayerMapsAreLaidOutOverOriginalPositions()
    {
        using var model = Tiny(seed: 65);
        torch.manual_seed(66);
        model.ConvertToMod(new ModConfig([1], SkipRatio: 0.5));
        using var scope = torch.NewDisposeScope();
        var ids = Ids(Prompt(5, 6, 7));                                                     // [1,8]
        var map = model.AttentionMaps(Pixels(1, 67), ids)[1][0];                           // [4,8,8]
        var processed = model.ModLayers[0].LastProcessed![0];                               // [8]
        Assert.Equal(6, processed.sum().item<long>());                                     // 2 of 4 images + 4 text
        var rows = map.sum(-1);                                                             // [4,8]
        var expected = processed.to_type(ScalarType.Float32).unsqueeze(0).expand(4, 8);
        Assert.True(MaxAbsDiff(rows, expected) < 1e-5f);                                    // 1 if processed, else 0
        var skippedKeys = processed.logical_not().view(1, 1, 8).expand(4, 8, 8);
        Assert.Equal(0f, map.masked_select(skippedKeys).abs().max().item<float>());
        Assert.Equal(0f, map.triu(1).abs().max().item<float>());
    }
}
