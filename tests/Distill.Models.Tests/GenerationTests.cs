using Distill.Models.Generation;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class GenerationTests
{
    [Fact]
    public void PaddedBatchGenerationEqualsPerSampleGeneration()
    {
        using var model = Tiny(seed: 11);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(3, 4);
        var prompts = new[] { Prompt(5, 6, 7, 8, 9), Prompt(10), Prompt(12, 13, 14) };
        var batched = model.GenerateGreedy(pixels, prompts, maxNewTokens: 6, eosId: Eos, padId: Pad);
        Assert.Equal(3, batched.Count);
        for (var i = 0; i < prompts.Length; i++)
        {
            var alone = model.GenerateGreedy(pixels.narrow(0, i, 1), new[] { prompts[i] }, 6, Eos, Pad);
            Assert.Equal(alone[0], batched[i]);
            Assert.DoesNotContain(Eos, batched[i]);
            Assert.InRange(batched[i].Length, 0, 6);
        }
    }

    [Fact]
    public void GreedyTokensAreTheArgmaxOfTheFullForward()
    {
        using var model = Tiny(seed: 12);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(1, 9);
        var prompt = Prompt(7, 8);
        var generated = model.GenerateGreedy(pixels, new[] { prompt }, 4, eosId: -1, padId: Pad)[0];
        Assert.Equal(4, generated.Length);               // no eos possible: capped at maxNewTokens
        using var noGrad = torch.no_grad();
        var logits = model.Forward(pixels, Ids(prompt.Concat(generated).ToArray()));        // [1,T,V]
        for (var j = 0; j < generated.Length; j++)
        {
            var position = prompt.Length - 1 + j;
            Assert.Equal(generated[j], (int)logits[0, position].argmax().item<long>());
        }
    }

    [Fact]
    public void GenerationStopsAtEosAndDropsIt()
    {
        using var model = Tiny(seed: 13);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(1, 2);
        var prompt = Prompt(5, 6);
        var free = model.GenerateGreedy(pixels, new[] { prompt }, 5, eosId: -1, padId: Pad)[0];
        // Declare the third generated token to be eos: generation must stop before it.
        var stopped = model.GenerateGreedy(pixels, new[] { prompt }, 5, eosId: free[2], padId: Pad)[0];
        var firstEos = Array.IndexOf(free, free[2]);
        Assert.Equal(free.Take(firstEos).ToArray(), stopped);
    }
}
