using Distill.Models.Generation;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class GenerationSamplingTests
{
    private static readonly int[][] Prompts = { Prompt(5, 6, 7), Prompt(10), Prompt(12, 13) };
    private const int NoEos = -1;   // every row runs to MaxNewTokens

    [Fact]
    public void SameSeedGivesTheSameTokensAndAnotherSeedOthers()
    {
        using var model = Tiny(seed: 31);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(3, 32);
        var options = new GenerationOptions(8, NoEos, Pad, Temperature: 1.5, TopP: 0.95, Seed: 7);
        var first = model.Generate(pixels, Prompts, options).Tokens;
        torch.manual_seed(999);                                             // the global RNG plays no part
        var second = model.Generate(pixels, Prompts, options).Tokens;
        Assert.Equal(first, second);
        var other = model.Generate(pixels, Prompts, options with { Seed = 8 }).Tokens;
        Assert.NotEqual(first.SelectMany(t => t), other.SelectMany(t => t));
        var greedy = model.GenerateGreedy(pixels, Prompts, 8, NoEos, Pad);
        Assert.NotEqual(greedy.SelectMany(t => t), first.SelectMany(t => t)); // it does sample
    }

    [Fact]
    public void TemperatureZeroAndTinyTopPAreGreedy()
    {
        using var model = Tiny(seed: 33);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(3, 34);
        var greedy = model.GenerateGreedy(pixels, Prompts, 6, NoEos, Pad);
        var cold = model.Generate(pixels, Prompts, new GenerationOptions(6, NoEos, Pad, Temperature: 0, TopP: 0.5, Seed: 3));
        var narrow = model.Generate(pixels, Prompts, new GenerationOptions(6, NoEos, Pad, Temperature: 1.0, TopP: 1e-6, Seed: 4));
        Assert.Equal(greedy, cold.Tokens);
        Assert.Equal(greedy, narrow.Tokens);
    }

    [Fact]
    public void SampledLogProbsAreTheModelsLogProbsOfTheChosenTokens()
    {
        using var model = Tiny(seed: 35);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(1, 36);
        var prompt = Prompt(7, 8);
        var result = model.Generate(pixels, new[] { prompt },
            new GenerationOptions(4, NoEos, Pad, Temperature: 2.0, Seed: 5, ReturnLogProbs: true));
        var tokens = result.Tokens[0];
        Assert.Equal(4, tokens.Length);
        var logProbs = model.Forward(pixels, Ids(prompt.Concat(tokens).ToArray())).log_softmax(-1); // [1,T,V]
        for (var j = 0; j < tokens.Length; j++)
            Assert.Equal(logProbs[0, prompt.Length - 1 + j, tokens[j]].item<float>(), result.LogProbs![0][j], 4);
    }

    [Fact]
    public void BadOptionsAreRejected()
    {
        Assert.Throws<ArgumentException>(() => new GenerationOptions(4, Eos, Pad, Temperature: -1).Validate());
        Assert.Throws<ArgumentException>(() => new GenerationOptions(4, Eos, Pad, TopP: 0).Validate());
        Assert.Throws<ArgumentException>(() => new GenerationOptions(-1, Eos, Pad).Validate());
    }

    [Fact]
    public void GenerationAndScoringLeaveNoLiveTensorsBehind()
    {
        using var model = Tiny(seed: 37);
        using var pixels = Pixels(3, 38);
        var options = new GenerationOptions(4, NoEos, Pad, Temperature: 1.0, TopP: 0.9, Seed: 1, ReturnLogProbs: true);
        model.Generate(pixels, Prompts, options);                            // warm-up (lazy allocations)
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        model.Generate(pixels, Prompts, options);
        model.Generate(pixels, Prompts, options with { Temperature = 0, EosId = Eos });
        var scores = model.ScoreResponses(pixels, Prompts, new[] { new[] { 3, 4 }, Array.Empty<int>(), new[] { 9 } }, Pad);
        scores.Sum.sum().backward();
        scores.Sum.Dispose();
        model.zero_grad();
        var afterGrad = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        model.ScoreResponses(pixels, Prompts, new[] { new[] { 3, 4 }, Array.Empty<int>(), new[] { 9 } }, Pad).Sum.Dispose();
        Assert.Equal(afterGrad, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        model.Generate(pixels, Prompts, options);
        Assert.Equal(afterGrad, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        Assert.InRange(afterGrad - before, 0, model.parameters().Count());   // at most the .grad tensors
    }
}
