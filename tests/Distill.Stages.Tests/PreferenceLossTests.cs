using Distill.Stages.Workspace;
using Distill.Models.Generation;
using Distill.Models.Torch;
using Distill.Models;
using Distill.Models.Config;
using Distill.Models.Moe;
using Distill.Stages.Arrow;
using Distill.Stages.Losses;
using Distill.Stages.Preference;
using Distill.Stages.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>The preference losses against hand-computed values, their gradients, and one optimizer step on a tiny
/// model.</summary>
public sealed class PreferenceLossTests
{
    // Two pairs: r_w = pi_w - ref_w = [0.5, -1.0], r_l = pi_l - ref_l = [-1.0, 2.0], r_w - r_l = [1.5, -3.0]; beta 0.5.
    private static (Tensor Pw, Tensor Pl, Tensor Rw, Tensor Rl) Example() => (
        tensor(new[] { -1.0f, -2.0f }, requires_grad: true), tensor(new[] { -3.0f, -0.5f }, requires_grad: true),
        tensor(new[] { -1.5, -1.0 }), tensor(new[] { -2.0, -2.5 }));

    private static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    [Fact]
    public void Sigmoid_is_log_2_when_policy_equals_reference()
    {
        using var scope = NewDisposeScope();
        var logps = tensor(new[] { -3.5f, -0.25f, -9f });
        foreach (var beta in new[] { 0.1, 1.0 })
            Assert.Equal(Math.Log(2), PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, beta, logps, logps.sub(Scalars.One), logps, logps.sub(Scalars.One)).item<float>(), 6);
    }

    [Fact]
    public void Chosen_nll_is_the_per_token_mean_over_non_empty_responses_and_its_gradient_is_minus_one_over_length()
    {
        using var scope = NewDisposeScope();
        // Sums -2 over 2 tokens, -6 over 3 tokens, and an empty response: (2/2 + 6/3) / 2 = 1.5; the empty one counts 0.
        var chosen = tensor(new[] { -2.0f, -6.0f, 0.0f }, requires_grad: true);
        var nll = PreferenceLoss.ChosenNll(chosen, [2, 3, 0]);
        Assert.Equal(1.5, nll.item<float>(), 6);
        nll.backward();
        // d/d sum_b = -1 / (len_b * non-empty pairs): -1/4, -1/6, 0.
        var grad = chosen.grad!.data<float>().ToArray();
        Assert.Equal(-0.25, grad[0], 6);
        Assert.Equal(-1.0 / 6, grad[1], 6);
        Assert.Equal(0.0, grad[2], 6);
        Assert.Equal(0.0, PreferenceLoss.ChosenNll(tensor(new[] { 0.0f }), [0]).item<float>());
        Assert.Throws<ArgumentException>(() => PreferenceLoss.ChosenNll(chosen, [2, 3]));
    }

    [Fact]
    public void Sigmoid_matches_the_hand_computed_value()
    {
        using var scope = NewDisposeScope();
        var (pw, pl, rw, rl) = Example();
        // mean(-log sigmoid(0.5 * 1.5), -log sigmoid(0.5 * -3.0)) = mean(log(1 + e^-0.75), log(1 + e^1.5))
        double expected = (Math.Log(1 + Math.Exp(-0.75)) + Math.Log(1 + Math.Exp(1.5))) / 2;
        Assert.Equal(1.0441421420, expected, 9);
        Assert.Equal(expected, PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0.5, pw, pl, rw, rl).item<float>(), 5);
    }

    [Fact]
    public void Ipo_matches_the_hand_computed_value()
    {
        using var scope = NewDisposeScope();
        var (pw, pl, rw, rl) = Example();
        // 1/(2 beta) = 1: mean((1.5 - 1)^2, (-3 - 1)^2) = mean(0.25, 16)
        Assert.Equal(8.125, PreferenceLoss.Compute(PreferenceLossKind.Ipo, 0.5, pw, pl, rw, rl).item<float>(), 5);
    }

    [Fact]
    public void Kto_pair_matches_the_hand_computed_value_with_the_batch_mean_clamp()
    {
        using var scope = NewDisposeScope();
        var (pw, pl, rw, rl) = Example();
        // KL_w = max(0, mean r_w = -0.25) = 0 (clamped); KL_l = max(0, mean r_l = 0.5) = 0.5.
        // chosen terms 1 - sigmoid(0.5 (r_w - 0.5)) = 1 - sigmoid(0), 1 - sigmoid(-0.75);
        // rejected terms 1 - sigmoid(0.5 (0 - r_l)) = 1 - sigmoid(0.5), 1 - sigmoid(-1).
        double expected = (0.5 + (1 - Sigmoid(-0.75)) + (1 - Sigmoid(0.5)) + (1 - Sigmoid(-1))) / 4;
        Assert.Equal(0.5719444867, expected, 9);
        Assert.Equal(expected, PreferenceLoss.Compute(PreferenceLossKind.KtoPair, 0.5, pw, pl, rw, rl).item<float>(), 5);
    }

    [Fact]
    public void Sigmoid_gradient_at_init_is_minus_beta_half_over_batch_for_chosen_and_plus_for_rejected()
    {
        using var scope = NewDisposeScope();
        var pw = tensor(new[] { -2f, -4f }, requires_grad: true);
        var pl = tensor(new[] { -3f, -1f }, requires_grad: true);
        PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0.1, pw, pl, pw.detach(), pl.detach()).backward();
        // d/dpi_w mean_b -log sigmoid(beta m_b) = -beta sigmoid(-beta m_b) / B = -0.1 * 0.5 / 2 at m = 0.
        Assert.Equal([-0.025f, -0.025f], pw.grad!.data<float>().ToArray());
        Assert.Equal([0.025f, 0.025f], pl.grad!.data<float>().ToArray());
    }

    [Theory]
    [InlineData(PreferenceLossKind.Sigmoid)]
    [InlineData(PreferenceLossKind.KtoPair)]
    [InlineData(PreferenceLossKind.Ipo)]
    public void Every_loss_pushes_chosen_up_and_rejected_down(PreferenceLossKind kind)
    {
        using var scope = NewDisposeScope();
        var (pw, pl, rw, rl) = Example();
        var loss = PreferenceLoss.Compute(kind, 0.5, pw, pl, rw, rl);
        loss.backward();
        var gw = pw.grad!.data<float>().ToArray();
        var gl = pl.grad!.data<float>().ToArray();
        Assert.True(gw[1] < 0, $"{kind}: d loss / d log pi(y_w) = {gw[1]}");
        Assert.True(gl[1] > 0, $"{kind}: d loss / d log pi(y_l) = {gl[1]}");
        if (kind != PreferenceLossKind.Ipo)
        {
            Assert.True(gw[0] <= 0, $"{kind}: {gw[0]}");
            Assert.True(gl[0] >= 0, $"{kind}: {gl[0]}");
        }
        else
        {
            // ipo aims at the margin 1/(2 beta) = 1: pair 0 (margin 1.5) over-shoots and is pulled back, 2 (1.5 - 1) / B.
            Assert.Equal(0.5f, gw[0], 5);
            Assert.Equal(-0.5f, gl[0], 5);
        }
    }

    [Fact]
    public void Names_parse_and_unknown_names_are_refused_listing_the_allowed_ones()
    {
        Assert.Equal(PreferenceLossKind.KtoPair, PreferenceLossKinds.Parse("kto-pair"));
        Assert.Equal("ipo", PreferenceLossKind.Ipo.Name());
        Assert.Contains("sigmoid, kto-pair, ipo", Assert.Throws<ArgumentException>(() => PreferenceLossKinds.Parse("dpo")).Message);
        using var scope = NewDisposeScope();
        var x = tensor(new[] { -1f });
        Assert.Throws<ArgumentOutOfRangeException>(() => PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0, x, x, x, x));
        Assert.Throws<ArgumentException>(() => PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0.1, x, tensor(new[] { 1f, 2f }), x, x));
    }

    [Fact]
    public void One_optimizer_step_on_a_tiny_model_raises_the_chosen_margin()
    {
        using var model = TinyModel(seed: 4);
        var rows = new[] { Pair("a", seed: 1, [20, 21, 2], [22, 2]), Pair("b", seed: 2, [23, 2], [24, 25, 26, 2]) };
        rows = WithOwnReference(model, rows); // policy == reference: margin 0, loss log 2
        using var optimization = new Optimization(model.parameters(), new TrainOptions(1, 2, 0.01, 0, 0, 1), 1);

        model.train();
        using (var scope = NewDisposeScope())
        {
            var (w, l, rw, rl) = PolicyLogProbs.Of(model, rows, ImageFormat.Shapes(8), 0);
            var loss = PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0.1, w, l, rw, rl);
            Assert.Equal(Math.Log(2), loss.item<float>(), 5);
            optimization.Step(loss);
        }

        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var (w, l, rw, rl) = PolicyLogProbs.Of(model, rows, ImageFormat.Shapes(8), 0);
            var (chosen, rejected) = PreferenceLoss.LogRatios(w, l, rw, rl);
            var margins = (chosen - rejected).data<float>().ToArray();
            Assert.All(margins, m => Assert.True(m > 0, $"margins after one step: {string.Join(", ", margins)}"));
            Assert.True(PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0.1, w, l, rw, rl).item<float>() < Math.Log(2));
        }
    }

    [Fact]
    public void Policy_log_probs_equal_the_scorer_sums_of_chosen_and_rejected()
    {
        using var model = TinyModel(seed: 6);
        var row = Pair("a", seed: 3, [20, 21, 2], [22, 2]);
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (w, l, _, _) = PolicyLogProbs.Of(model, [row], ImageFormat.Shapes(8), 0);
        var pixels = ImageTensors.FromRgb([row.Image], ImageFormat.Shapes(8));
        var chosen = model.ScoreResponses(pixels, [row.PromptIds], [row.ChosenIds], 0).Sum.item<float>();
        var rejected = model.ScoreResponses(pixels, [row.PromptIds], [row.RejectedIds], 0).Sum.item<float>();
        Assert.Equal(chosen, w.item<float>(), 5);
        Assert.Equal(rejected, l.item<float>(), 5);
        Assert.True(chosen < 0 && rejected < 0);
    }

    internal static VisionLanguageModel TinyModel(long seed, MoeConfig? moe = null)
    {
        manual_seed(seed);
        return new VisionLanguageModel(new VlmConfig(
            new VisionConfig(ImageSize: 8, PatchSize: 4, HiddenSize: 16, IntermediateSize: 32, Layers: 1, Heads: 2) { HiddenAct = "gelu" },
            new DecoderConfig(VocabSize: 32, HiddenSize: 24, IntermediateSize: 48, Layers: 2, Heads: 4, KvHeads: 2, Moe: moe),
            ImageTokenId: 4) { VisionFeatureLayer = -1 });
    }

    /// <summary>A pair on a random 8x8 image: prompt = bos, user, 4 image tokens, two words, assistant.</summary>
    internal static PreferenceRow Pair(string id, int seed, int[] chosen, int[] rejected)
    {
        var image = new byte[8 * 8 * 3];
        new Random(seed).NextBytes(image);
        return new PreferenceRow(id, image, [1, 5, 4, 4, 4, 4, 10 + seed, 11, 6], chosen, rejected, 0, 0, PreferenceSources.StudentSampled, "test");
    }

    /// <summary>The rows with the model's own log-probs as the reference.</summary>
    internal static PreferenceRow[] WithOwnReference(VisionLanguageModel model, PreferenceRow[] rows)
    {
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var (w, l, _, _) = PolicyLogProbs.Of(model, rows, ImageFormat.Shapes(8), 0);
        var cw = w.data<float>().ToArray();
        var cl = l.data<float>().ToArray();
        return rows.Select((r, i) => r with { RefChosenLogp = cw[i], RefRejectedLogp = cl[i] }).ToArray();
    }
}
