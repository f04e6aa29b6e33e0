using Distill.Models.Generation;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class ScoringTests
{
    private static readonly int[][] Prompts = { Prompt(5, 6, 7, 8), Prompt(10), Prompt(12, 13), Prompt(14, 15) };
    private static readonly int[][] Responses = { new[] { 3, 4 }, new[] { 9, 8, 7, 6 }, Array.Empty<int>(), new[] { 20 } };

    /// <summary>Sum over the response of log_softmax(logits)[token], each row alone, unpadded.</summary>
    private static double ByHand(VisionLanguageModel model, Tensor pixels, int row)
    {
        var prompt = Prompts[row];
        var response = Responses[row];
        var logProbs = model.Forward(pixels.narrow(0, row, 1), Ids(prompt.Concat(response).ToArray())).log_softmax(-1);
        double sum = 0;
        for (var j = 0; j < response.Length; j++)
            sum += logProbs[0, prompt.Length - 1 + j, response[j]].item<float>();
        return sum;
    }

    [Fact]
    public void PaddedBatchScoreEqualsTheHandSumOfLogSoftmax()
    {
        using var model = Tiny(seed: 41);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(4, 42);
        var scores = model.ScoreResponses(pixels, Prompts, Responses, Pad);
        Assert.Equal(new[] { 2, 4, 0, 1 }, scores.Counts);
        Assert.Equal(new long[] { 4 }, scores.Sum.shape);
        var sums = scores.Sum.data<float>().ToArray();
        for (var i = 0; i < Prompts.Length; i++)
            Assert.Equal(ByHand(model, pixels, i), sums[i], 4);
        Assert.Equal(0f, sums[2]);
        var means = scores.Mean().data<float>().ToArray();
        Assert.Equal(sums[1] / 4, means[1], 5);

        var features = model.EncodeImages(pixels);
        var again = model.ScoreResponsesWithImageFeatures(features, Prompts, Responses, Pad);
        Assert.True(MaxAbsDiff(scores.Sum, again.Sum) < 1e-6f);
    }

    [Fact]
    public void GradientsFlowThroughTheScore()
    {
        using var model = Tiny(seed: 43);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(4, 44);
        var scores = model.ScoreResponses(pixels, Prompts, Responses, Pad);
        Assert.True(scores.Sum.requires_grad);
        (-scores.Sum.sum()).backward();
        var named = model.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var name in new[] { "language_model.lm_head.weight", "language_model.model.layers.0.self_attn.q_proj.weight",
                                     "multi_modal_projector.linear_1.weight" })
        {
            var grad = named[name].grad;
            Assert.NotNull(grad);
            Assert.True(grad!.abs().sum().item<float>() > 0f, $"{name} got no gradient");
            Assert.False(grad.isnan().any().item<bool>());
        }
    }

    [Fact]
    public void MismatchedInputsAreRejected()
    {
        using var model = Tiny(seed: 45);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(2, 1);
        Assert.Throws<ArgumentException>(() => model.ScoreResponses(pixels, Prompts.Take(2).ToArray(), Responses, Pad));
        Assert.Throws<ArgumentException>(() => model.ScoreResponses(pixels, Prompts.Take(3).ToArray(), Responses.Take(3).ToArray(), Pad));
    }
}
