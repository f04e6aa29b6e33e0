using Distill.Models.Generation;
using Distill.Models.Torch;
using Distill.Models.Language;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class DecoderTests
{
    [Fact]
    public void ChangingALaterTokenLeavesEarlierLogitsAlone()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(1, 7);
        var a = model.Forward(pixels, Ids(Prompt(5, 6, 7, 8)));      // [1,9,V]
        var b = model.Forward(pixels, Ids(Prompt(5, 6, 7, 20)));     // last token differs
        Assert.Equal(new long[] { 1, 9, 32 }, a.shape);
        Assert.Equal(0f, MaxAbsDiff(a.narrow(1, 0, 8), b.narrow(1, 0, 8)));
        Assert.True(MaxAbsDiff(a.narrow(1, 8, 1), b.narrow(1, 8, 1)) > 1e-4f);
    }

    [Fact]
    public void ChangingAnEarlierTokenChangesLaterLogits()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(1, 7);
        var a = model.Forward(pixels, Ids(Prompt(5, 6, 7, 8)));
        var b = model.Forward(pixels, Ids(Prompt(9, 6, 7, 8)));      // position 5 differs
        Assert.Equal(0f, MaxAbsDiff(a.narrow(1, 0, 5), b.narrow(1, 0, 5)));
        for (var t = 5; t < 9; t++)
            Assert.True(MaxAbsDiff(a.narrow(1, t, 1), b.narrow(1, t, 1)) > 1e-5f, $"position {t} did not change");
    }

    [Fact]
    public void LeftPaddedBatchMatchesUnpaddedSequences()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(2, 3);
        var longPrompt = Prompt(5, 6, 7, 8, 9, 10);     // 11 tokens
        var shortPrompt = Prompt(12, 13);               // 7 tokens
        var (ids, mask) = model.LeftPad(new[] { longPrompt, shortPrompt }, Pad);
        Assert.Equal(new long[] { 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1 }, mask[1].data<long>().ToArray());
        var batched = model.Forward(pixels, ids, mask);                                // [2,11,V]

        var alone0 = model.Forward(pixels.narrow(0, 0, 1), Ids(longPrompt));           // [1,11,V]
        var alone1 = model.Forward(pixels.narrow(0, 1, 1), Ids(shortPrompt));          // [1,7,V]
        Assert.True(MaxAbsDiff(batched.narrow(0, 0, 1), alone0) < 1e-5f);
        Assert.True(MaxAbsDiff(batched.narrow(0, 1, 1).narrow(1, 4, 7), alone1) < 1e-5f);
        Assert.False(batched.isnan().any().item<bool>());
    }

    [Fact]
    public void PositionIdsSkipLeftPadding()
    {
        using var scope = torch.NewDisposeScope();
        var mask = torch.tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1, 1, 1 }, [2, 5]);
        var positions = AttentionMask.PositionIds(2, 5, mask, torch.CPU);
        Assert.Equal(new long[] { 0, 0, 0, 1, 2, 0, 1, 2, 3, 4 }, positions.data<long>().ToArray());
    }

    [Fact]
    public void RopeRotatesHalvesAndKeepsRelativeScores()
    {
        using var scope = torch.NewDisposeScope();
        var rope = new RotaryEmbedding(headDim: 4, theta: 10000.0);
        // Hand-worked: d = 4, inverse frequencies [1, 0.01]; at position 1 the pairs (x0,x2) and (x1,x3) rotate by 1 and 0.01 rad.
        var x = torch.tensor(new float[] { 1, 2, 3, 4 }, [1, 1, 1, 4]);
        var (cos, sin) = rope.CosSin(torch.tensor(new long[] { 1 }, [1, 1]));
        var y = RotaryEmbedding.Apply(x, cos, sin).data<float>().ToArray();
        double c1 = Math.Cos(1), s1 = Math.Sin(1), c2 = Math.Cos(0.01), s2 = Math.Sin(0.01);
        var expected = new[] { 1 * c1 - 3 * s1, 2 * c2 - 4 * s2, 3 * c1 + 1 * s1, 4 * c2 + 2 * s2 };
        for (var i = 0; i < 4; i++) Assert.Equal(expected[i], y[i], 5);

        // q at m and k at n score the same as q at m+3 and k at n+3.
        torch.manual_seed(5);
        var q = torch.randn(1, 1, 1, 4);
        var k = torch.randn(1, 1, 1, 4);
        float Score(long m, long n)
        {
            var (cm, sm) = rope.CosSin(torch.tensor(new[] { m }, [1, 1]));
            var (cn, sn) = rope.CosSin(torch.tensor(new[] { n }, [1, 1]));
            return (RotaryEmbedding.Apply(q, cm, sm) * RotaryEmbedding.Apply(k, cn, sn)).sum().item<float>();
        }
        Assert.Equal(Score(2, 5), Score(5, 8), 4);
    }

    [Fact]
    public void RepeatKvRepeatsEachHeadConsecutively()
    {
        using var scope = torch.NewDisposeScope();
        var kv = Scalars.Arange(2).to_type(ScalarType.Float32).view(1, 2, 1, 1);    // heads [0, 1]
        var repeated = LlamaAttention.RepeatKv(kv, 3);
        Assert.Equal(new float[] { 0, 0, 0, 1, 1, 1 }, repeated.data<float>().ToArray());
    }

    [Fact]
    public void ParameterNamesFollowHuggingFace()
    {
        using var model = Tiny();
        var names = model.state_dict().Keys.ToHashSet();
        foreach (var name in new[]
                 {
                     "vision_tower.vision_model.embeddings.class_embedding",
                     "vision_tower.vision_model.embeddings.patch_embedding.weight",
                     "vision_tower.vision_model.embeddings.position_embedding.weight",
                     "vision_tower.vision_model.pre_layrnorm.weight",
                     "vision_tower.vision_model.encoder.layers.1.layer_norm1.bias",
                     "vision_tower.vision_model.encoder.layers.0.self_attn.out_proj.bias",
                     "vision_tower.vision_model.encoder.layers.1.mlp.fc2.weight",
                     "vision_tower.vision_model.post_layernorm.weight",
                     "multi_modal_projector.linear_1.weight", "multi_modal_projector.linear_2.bias",
                     "language_model.model.embed_tokens.weight",
                     "language_model.model.layers.1.self_attn.q_proj.weight",
                     "language_model.model.layers.0.self_attn.k_proj.weight",
                     "language_model.model.layers.0.input_layernorm.weight",
                     "language_model.model.layers.0.post_attention_layernorm.weight",
                     "language_model.model.layers.1.mlp.gate_proj.weight",
                     "language_model.model.layers.1.mlp.down_proj.weight",
                     "language_model.model.norm.weight", "language_model.lm_head.weight",
                 })
            Assert.Contains(name, names);
        Assert.DoesNotContain("language_model.model.layers.0.self_attn.q_proj.bias", names);
        Assert.Equal(new long[] { 12, 24 }, model.state_dict()["language_model.model.layers.0.self_attn.k_proj.weight"].shape);
        Assert.Equal(new long[] { 5, 16 }, model.state_dict()["vision_tower.vision_model.embeddings.position_embedding.weight"].shape); // class token + 4 patches
    }

    [Fact]
    public void InitialisationIsHuggingFaceLike()
    {
        using var model = Tiny();
        var state = model.state_dict();
        Assert.Equal(1f, state["language_model.model.norm.weight"].min().item<float>());
        Assert.Equal(0f, state["multi_modal_projector.linear_1.bias"].abs().max().item<float>());
        var std = state["language_model.lm_head.weight"].std().item<float>();
        Assert.InRange(std, 0.015f, 0.025f);
    }

    [Fact]
    public void TiedEmbeddingsHaveNoLmHead()
    {
        using var model = Tiny(tie: true);
        using var scope = torch.NewDisposeScope();
        Assert.DoesNotContain("language_model.lm_head.weight", model.state_dict().Keys);
        using var noGrad = torch.no_grad();
        var hidden = torch.randn(1, 2, 24);
        var logits = model.LanguageModel.Head(hidden);
        var expected = hidden.matmul(model.LanguageModel.Model.EmbedTokens.weight!.t());
        Assert.True(MaxAbsDiff(logits, expected) < 1e-6f);
    }

    [Fact]
    public void WrongImageTokenCountNamesTheRow()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        var good = Prompt(5, 6);
        var bad = new[] { 1, ImageToken, ImageToken, ImageToken, 5, 6, 7 };
        var e = Assert.Throws<ArgumentException>(() => model.Forward(Pixels(2, 1), Ids(good, bad)));
        Assert.Contains("row 1", e.Message);
        Assert.Contains("3 image tokens", e.Message);
    }
}

public class ReplaceMlpTests
{
    [Fact]
    public void ReplacedMlpKeepsTheNameAndIsUsed()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(1, 1);
        var ids = Ids(Prompt(5, 6));
        var before = model.Forward(pixels, ids);
        var layer = model.LanguageModel.Model.Layers[1];
        torch.manual_seed(3);
        var replacement = new Distill.Models.Language.LlamaMlp(24, 40);
        var old = layer.ReplaceFeedForward(replacement, LlamaDecoderLayer.MlpName);
        Assert.IsType<Distill.Models.Language.LlamaMlp>(old);
        var keys = model.state_dict().Keys.ToList();
        Assert.Equal(new long[] { 40, 24 }, model.state_dict()["language_model.model.layers.1.mlp.gate_proj.weight"].shape);
        Assert.Single(keys, k => k == "language_model.model.layers.1.mlp.up_proj.weight");
        Assert.True(MaxAbsDiff(before, model.Forward(pixels, ids)) > 1e-6f);
        Assert.Equal("mlp", layer.FeedForwardName);
        layer.ReplaceFeedForward(old, LlamaDecoderLayer.MlpName);
        Assert.Equal(0f, MaxAbsDiff(before, model.Forward(pixels, ids)));
    }
}
