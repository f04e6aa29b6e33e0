using Distill.Models.Generation;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>KV-cache decoding = full recompute without a cache, on a left-padded batch of prompts of different
/// lengths whose rows stop at different steps.</summary>
public class GenerationCacheTests
{
    private const int MaxNew = 6;
    private static readonly int[][] Prompts = { Prompt(5, 6, 7, 8, 9), Prompt(10), Prompt(12, 13, 14) };

    /// <summary>Greedy decoding by recomputing the whole left-padded batch of running rows at every step.
    /// Returns tokens per row and the last-position logits [A,V] of every step (rows in running order).</summary>
    private static (List<int>[] Tokens, List<Tensor> StepLogits, List<int[]> StepRows) Recompute(
        VisionLanguageModel model, Tensor pixels, int eos)
    {
        var sequences = Prompts.Select(p => p.ToList()).ToArray();
        var tokens = Prompts.Select(_ => new List<int>()).ToArray();
        var stepLogits = new List<Tensor>();
        var stepRows = new List<int[]>();
        var active = Enumerable.Range(0, Prompts.Length).ToList();
        for (var step = 0; step < MaxNew && active.Count > 0; step++)
        {
            var (ids, mask) = model.LeftPad(active.Select(i => (IReadOnlyList<int>)sequences[i]).ToList(), Pad);
            var rows = torch.tensor(active.Select(i => (long)i).ToArray());
            var logits = model.Forward(pixels.index_select(0, rows), ids, mask).select(1, -1);   // [A,V]
            stepLogits.Add(logits);
            stepRows.Add(active.ToArray());
            var next = logits.argmax(-1).data<long>().ToArray();
            active = ReferenceDecoding.Advance(active, next, eos, tokens, sequences);
        }
        return (tokens, stepLogits, stepRows);
    }

    /// <summary>An eos that makes the rows stop at different steps: a token that row 1 generates freely at step 2.</summary>
    private static int EosThatStopsSomeRows(VisionLanguageModel model, Tensor pixels) =>
        Recompute(model, pixels, eos: -1).Tokens[1][2];

    [Fact]
    public void CachedGreedyStepsGiveTheLogitsAndTokensOfTheFullRecompute()
    {
        using var model = Tiny(seed: 21);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(3, 22);
        var eos = EosThatStopsSomeRows(model, pixels);
        var (expected, expectedLogits, expectedRows) = Recompute(model, pixels, eos);
        Assert.True(expected.Select(t => t.Count).Distinct().Count() > 1, "rows should stop at different steps");

        // The same loop through Prefill / DecodeStep; capacity 0 makes the cache grow while decoding.
        using var cache = model.NewKvCache();
        var features = model.EncodeImages(pixels);
        var (ids, mask) = model.LeftPad(Prompts.Select(p => (IReadOnlyList<int>)p).ToList(), Pad);
        var prefill = model.Prefill(features, ids, mask, cache);                              // [B,L,V]
        Assert.True(MaxAbsDiff(prefill, model.Forward(pixels, ids, mask)) < 1e-5f);           // whole prompt
        var logits = prefill.select(1, -1);                                                    // [B,V]
        var tokens = Prompts.Select(_ => new List<int>()).ToArray();
        var active = Enumerable.Range(0, Prompts.Length).ToList();
        for (var step = 0; step < MaxNew && active.Count > 0; step++)
        {
            Assert.Equal(expectedRows[step], active.ToArray());
            Assert.True(MaxAbsDiff(logits, expectedLogits[step]) < 1e-4f, $"step {step} logits differ");
            var next = logits.argmax(-1).data<long>().ToArray();
            var keep = new List<long>();
            for (var a = 0; a < active.Count; a++)
            {
                if (next[a] == eos) continue;
                tokens[active[a]].Add((int)next[a]);
                keep.Add(a);
            }
            if (keep.Count < active.Count) cache.KeepRows(torch.tensor(keep.ToArray()));
            active = keep.Select(a => active[(int)a]).ToList();
            if (active.Count == 0 || step + 1 == MaxNew) break;
            var stepIds = torch.tensor(keep.Select(a => next[a]).ToArray(), [keep.Count, 1]);
            logits = model.DecodeStep(stepIds, cache).select(1, 0);                            // [A,V]
        }
        for (var i = 0; i < Prompts.Length; i++) Assert.Equal(expected[i], tokens[i]);
        Assert.True(cache.Capacity >= cache.Length);
    }

    [Fact]
    public void GeneratorMatchesTheFullRecomputeTokensAndLogProbs()
    {
        using var model = Tiny(seed: 21);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(3, 22);
        var eos = EosThatStopsSomeRows(model, pixels);
        var (expected, stepLogits, stepRows) = Recompute(model, pixels, eos);
        var result = model.Generate(pixels, Prompts, new GenerationOptions(MaxNew, eos, Pad, ReturnLogProbs: true));
        Assert.Equal(expected.Select(t => t.ToArray()), result.Tokens);
        Assert.Equal(expected.Select(t => t.ToArray()), model.GenerateGreedy(pixels, Prompts, MaxNew, eos, Pad));
        for (var i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(expected[i].Count, result.LogProbs![i].Length);
            for (var j = 0; j < expected[i].Count; j++)
            {
                var a = Array.IndexOf(stepRows[j], i);
                var byHand = stepLogits[j][a].log_softmax(-1)[expected[i][j]].item<float>();
                Assert.Equal(byHand, result.LogProbs[i][j], 4);
            }
        }
    }

    [Fact]
    public void NoNewTokensOrNoPromptsGiveEmptyResults()
    {
        using var model = Tiny(seed: 23);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(2, 1);
        var none = model.Generate(pixels, new[] { Prompt(5), Prompt(6, 7) }, new GenerationOptions(0, Eos, Pad, ReturnLogProbs: true));
        Assert.All(none.Tokens, t => Assert.Empty(t));
        Assert.All(none.LogProbs!, l => Assert.Empty(l));
        Assert.Null(model.Generate(pixels, new[] { Prompt(5), Prompt(6) }, GenerationOptions.Greedy(2, Eos, Pad)).LogProbs);
        Assert.Throws<ArgumentException>(() => model.Generate(pixels, new[] { Prompt(5) }, GenerationOptions.Greedy(2, Eos, Pad)));
    }
}
