using Distill.Models.Generation;
using Distill.Models.Torch;
using System.Text.Json.Nodes;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Mod;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>gamma-MoD in the whole model: conversion, the shared router, equality with the dense model at skip
/// ratio 0, routing statistics, loss and gradients, checkpoints, and cached generation.</summary>
public sealed class ModModelTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "distill-mod-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static VisionLanguageModel Converted(long seed, ModConfig config)
    {
        var model = Tiny(seed);
        torch.manual_seed(seed + 1000);
        return model.ConvertToMod(config);
    }

    /// <summary>Replaces the router weight by N(0, scale^2) draws, for routing decisions far from any threshold.</summary>
    private static void SpreadRouter(VisionLanguageModel model, double scale, long seed)
    {
        torch.manual_seed(seed);
        using var noGrad = torch.no_grad();
        var weight = model.ModRouter!.Weight;
        weight.copy_(torch.randn(weight.shape) * Scalars.Of(scale));
    }

    private static readonly int[][] Rows = { Prompt(5, 6, 7, 8), Prompt(9, 10) };

    [Fact]
    public void SkipRatioZeroWithoutRouterScalingEqualsTheDenseModel()
    {
        using var model = Tiny(seed: 31);
        using var scope = torch.NewDisposeScope();
        var pixels = Pixels(2, 32);
        var (ids, mask) = model.LeftPad(Rows.Select(r => (IReadOnlyList<int>)r).ToList(), Pad);
        Tensor dense;
        using (torch.no_grad()) dense = model.Forward(pixels, ids, mask);

        model.ConvertToMod(new ModConfig([0, 1], SkipRatio: 0.0, PrefillThreshold: 0.0));
        foreach (var layer in model.ModLayers) layer.ScaleMlpByRouter = false;
        using (torch.no_grad())
        {
            Assert.Equal(0f, MaxAbsDiff(model.Forward(pixels, ids, mask), dense));          // training: top-k of all
            Assert.All(model.ModLayers, l => Assert.Equal(new long[] { 4, 4 }, l.LastRouting!.CompetingProcessed));
            Assert.All(model.ModLayers, l => Assert.Equal(new long[] { 9, 9 }, l.LastRouting!.Processed)); // padding too
            model.eval();
            Assert.Equal(0f, MaxAbsDiff(model.Forward(pixels, ids, mask), dense));          // eval: p > 0 for all
            // The default router scaling changes the output (the router is in the forward).
            foreach (var layer in model.ModLayers) layer.ScaleMlpByRouter = true;
            Assert.True(MaxAbsDiff(model.Forward(pixels, ids, mask), dense) > 1e-4f);
        }
    }

    [Fact]
    public void OneRouterServesEveryModLayerAndIsSavedOnce()
    {
        using var dense = Tiny(seed: 33);
        using var model = Converted(33, new ModConfig([0, 1]));
        var layers = model.ModLayers;
        Assert.Equal(2, layers.Count);
        Assert.Same(layers[0].Router, layers[1].Router);
        Assert.Same(model.ModRouter, layers[0].Router);
        Assert.Same(layers[0].Router,                                                       // the decoder holds it
            model.LanguageModel.Model.named_children().Single(c => c.name == ModConversion.RouterName).module);
        Assert.Same(model.LanguageModel.Model.Layers[1], layers[1].Layer);

        var keys = model.state_dict().Keys.ToHashSet();
        var added = keys.Except(dense.state_dict().Keys).ToArray();
        Assert.Equal(new[] { "language_model.model.mod_router.weight" }, added);
        Assert.Empty(dense.state_dict().Keys.Except(keys));                                 // layer names kept
        Assert.Equal(new long[] { 2, 24 }, model.ModRouter!.Weight.shape);
        Assert.InRange(model.ModRouter.Weight.std().item<float>(), 0.01f, 0.03f);
        Assert.Equal(ParameterAccounting.Total(model.Config), model.ParameterCount());
        Assert.Throws<InvalidOperationException>(() => model.ConvertToMod(new ModConfig([0])));
        Assert.Throws<ArgumentException>(() => dense.ConvertToMod(new ModConfig([2])));
    }

    [Fact]
    public void TrainingProcessesTheTopShareOfImageTokensAndEvalPrefillKeepsThoseAboveTheThreshold()
    {
        var config = new ModConfig([1], SkipRatio: 0.3);
        using var model = Converted(35, config);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(2, 36);
        var ids = Ids(Prompt(5, 6, 7), Prompt(8, 9, 10));
        model.Forward(pixels, ids);
        var layer = model.ModLayers[0];
        var keep = FlopAccounting.ModProcessedImageTokens(config.Text(), new SequenceShape(4, 4));
        Assert.Equal(3, keep);                                                              // ceil(0.7 * 4)
        Assert.Equal(new long[] { 3, 3 }, layer.LastRouting!.CompetingProcessed);
        Assert.Equal(new long[] { 7, 7 }, layer.LastRouting.Processed);                     // + 4 text tokens

        SpreadRouter(model, 3.0, seed: 37);
        model.eval();
        model.Forward(pixels, ids);
        var image = ids.eq(Scalars.Of(ImageToken));
        var p = layer.LastProbabilities!;
        var expected = image.logical_not().logical_or(p.gt(Scalars.Of(config.PrefillThreshold)));
        Assert.Equal(expected.data<bool>().ToArray(), layer.LastProcessed!.data<bool>().ToArray());
        var skippedImages = image.logical_and(layer.LastProcessed.logical_not()).sum().item<long>();
        Assert.InRange(skippedImages, 1, 7);                                               // some, not all, skip
    }

    [Fact]
    public void ExplicitTokenTypesLetSystemTokensCompete()
    {
        using var model = Converted(39, new ModConfig([0], SkipRatio: 0.5));
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var ids = Ids(Prompt(5, 6, 7, 8));
        var competing = ids.eq(Scalars.Of(ImageToken)).clone();
        competing[0, 0] = torch.tensor(true);                                               // BOS as a "system" token
        model.Forward(Pixels(1, 40), ids, null, competing);
        var routing = model.ModLayers[0].LastRouting!;
        Assert.Equal(5, routing.Competing[0]);
        Assert.Equal(3, routing.CompetingProcessed[0]);                                     // ceil(0.5 * 5)
        model.Forward(Pixels(1, 40), ids);                                                  // default: images only
        Assert.Equal(4, model.ModLayers[0].LastRouting!.Competing[0]);
    }

    [Fact]
    public void RoutingLossIsSummedAndGradientsReachTheRouterThroughLossAndMlp()
    {
        using var model = Converted(41, new ModConfig([0, 1], SkipRatio: 0.5));
        var router = model.ModRouter!.Weight;
        var pixels = Pixels(2, 42);
        var ids = Ids(Prompt(5, 6, 7), Prompt(8, 9, 10));
        using (var scope = torch.NewDisposeScope())
        {
            model.Forward(pixels, ids);
            var total = model.ModRoutingLoss();
            var sum = model.ModLayers.Sum(l => l.LastRoutingLoss!.item<float>());
            Assert.Equal(sum, total.item<float>(), 5);
            Assert.True(total.item<float>() > 0);
            total.backward();
            Assert.True(router.grad!.abs().sum().item<float>() > 0, "routing loss gives the router a gradient");
        }
        model.zero_grad();
        using (var scope = torch.NewDisposeScope())
        {
            model.Forward(pixels, ids).sum().backward();                                     // task loss only
            Assert.True(router.grad!.abs().sum().item<float>() > 0, "the p-scaled MLP gives the router a gradient");
        }
        model.zero_grad();
        foreach (var layer in model.ModLayers) layer.ScaleMlpByRouter = false;
        using (var scope = torch.NewDisposeScope())
        {
            model.Forward(pixels, ids).sum().backward();
            Assert.True(router.grad is null || router.grad.abs().sum().item<float>() == 0);
        }
    }

    [Fact]
    public void ConvertedCheckpointRoundTrips()
    {
        var config = new ModConfig([1], SkipRatio: 0.25, PrefillThreshold: 0.01, DecodeThreshold: 0.4, RoutingLossCoefficient: 0.02);
        using var model = Converted(43, config);
        SpreadRouter(model, 1.0, seed: 44);
        Checkpoint.Save(model, _dir);

        var text = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!["text_config"]!;
        Assert.Equal("llama", (string)text["model_type"]!);                                // transformers loads it as Llama
        var json = text["distill_mod"]!;
        Assert.Equal(new[] { 1 }, json["layers"]!.AsArray().Select(n => (int)n!).ToArray());
        Assert.Equal(0.25, (double)json["skip_ratio"]!);
        Assert.Equal(0.01, (double)json["prefill_threshold"]!);
        Assert.Equal(0.4, (double)json["decode_threshold"]!);
        Assert.Equal(0.02, (double)json["routing_loss_coef"]!);

        using var loaded = Checkpoint.Load(_dir);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal(config, loaded.Config.Text.Mod);
        Assert.Single(loaded.ModLayers);
        Assert.Same(loaded.LanguageModel.Model.Layers[1], loaded.ModLayers[0].Layer);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(2, 45);
        var ids = Ids(Prompt(5, 6, 7), Prompt(8, 9, 10));
        Assert.Equal(0f, MaxAbsDiff(model.Forward(pixels, ids), loaded.Forward(pixels, ids)));
        model.eval();
        loaded.eval();
        Assert.Equal(0f, MaxAbsDiff(model.Forward(pixels, ids), loaded.Forward(pixels, ids)));
        Assert.Null(HfConfigJson.Parse(HfConfigJson.Write(TinyConfig())).Vlm!.Text.Mod);
    }

    [Fact]
    public void ModForwardGenerationAndMapsLeaveNoLiveTensorsBehind()
    {
        using var model = Converted(55, new ModConfig([0, 1], SkipRatio: 0.5));
        SpreadRouter(model, 2.0, seed: 56);
        using var pixels = Pixels(2, 57);
        var prompts = new[] { Prompt(5, 6, 7), Prompt(8) };
        void Run()
        {
            using var scope = torch.NewDisposeScope();
            model.train();
            model.Forward(pixels, Ids(Prompt(5, 6, 7), Prompt(8, 9, 10)));
            model.ModRoutingLoss();
            model.eval();
            model.GenerateGreedy(pixels, prompts, 4, Eos, Pad);
            model.AttentionMaps(pixels, Ids(Prompt(5, 6, 7), Prompt(8, 9, 10)));
        }
        using var noGrad = torch.no_grad();
        Run();                                                                              // warm-up: Last* tensors exist
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        Run();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    // ---- Cached decoding ----

    private const int MaxNew = 6;
    private static readonly int[][] Prompts = { Prompt(5, 6, 7, 8, 9), Prompt(10), Prompt(12, 13, 14) };

    /// <summary>Greedy decoding by recomputing the left-padded batch of running rows at every step, with the tokens
    /// generated so far typed <see cref="ModTokenTypes.Generated"/> (what the cached decode steps do).
    /// Returns the tokens per row and, over all steps, how many generated tokens the MoD layers processed / skipped.</summary>
    private static (List<int>[] Tokens, long Processed, long Skipped) Recompute(VisionLanguageModel model, Tensor pixels, int eos)
    {
        using var scope = torch.NewDisposeScope();
        var sequences = Prompts.Select(p => p.ToList()).ToArray();
        var tokens = Prompts.Select(_ => new List<int>()).ToArray();
        var active = Enumerable.Range(0, Prompts.Length).ToList();
        long processed = 0, skipped = 0;
        using var yes = true.ToScalar();
        for (var step = 0; step < MaxNew && active.Count > 0; step++)
        {
            var (ids, mask) = model.LeftPad(active.Select(i => (IReadOnlyList<int>)sequences[i]).ToList(), Pad);
            long width = ids.shape[1];
            var types = model.ModTokenTypesOf(ids).clone();                                 // [A,W]
            var generated = torch.zeros(active.Count, width, dtype: ScalarType.Bool);
            for (var a = 0; a < active.Count; a++)
            {
                var count = tokens[active[a]].Count;
                if (count > 0) generated[a].narrow(0, width - count, count).fill_(yes);
            }
            types = types.masked_fill(generated, Scalars.Of(ModTokenTypes.Generated));
            var rows = torch.tensor(active.Select(i => (long)i).ToArray());
            var features = model.EncodeImages(pixels.index_select(0, rows));               // [A,F,Dt]
            var logits = ReferenceDecoding.Forward(model, features, ids, mask, generated, types).select(1, -1); // [A,V]
            foreach (var layer in model.ModLayers)
            {
                processed += layer.LastProcessed!.logical_and(generated).sum().item<long>();
                skipped += layer.LastProcessed.logical_not().logical_and(generated).sum().item<long>();
            }
            var next = logits.argmax(-1).data<long>().ToArray();
            active = ReferenceDecoding.Advance(active, next, eos, tokens, sequences);
        }
        return (tokens, processed, skipped);
    }

    [Fact]
    public void CachedGreedyGenerationMatchesTheFullRecomputeWithSkippedTokens()
    {
        using var model = Converted(47, new ModConfig([1]));
        SpreadRouter(model, 2.0, seed: 48);
        model.eval();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(3, 49);
        var free = Recompute(model, pixels, eos: -1).Tokens;
        var eos = free[1][2];                                                               // stops row 1 early
        var (expected, processed, skipped) = Recompute(model, pixels, eos);
        Assert.True(expected.Select(t => t.Count).Distinct().Count() > 1, "rows should stop at different steps");
        Assert.True(processed > 0 && skipped > 0, $"decode should both process and skip tokens ({processed} / {skipped})");

        Assert.Equal(expected.Select(t => t.ToArray()), model.GenerateGreedy(pixels, Prompts, MaxNew, eos, Pad));

        // The MoD layer's cache holds only the tokens it processed: fewer than the dense layer's.
        using var cache = model.NewKvCache();
        var (ids, mask) = model.LeftPad(Prompts.Select(p => (IReadOnlyList<int>)p).ToList(), Pad);
        model.Prefill(model.EncodeImages(pixels), ids, mask, cache);
        var kept = model.ModLayers[0].LastProcessed!.logical_and(mask.ne(Scalars.Zero)).sum(1); // [B] real tokens kept
        Assert.True(cache.HasOwnPositions(1) && !cache.HasOwnPositions(0));
        Assert.True(cache.LayerLength(1) <= cache.Length);
        Assert.Equal(kept.data<long>().ToArray(), cache.LayerLengths(1)!.data<long>().ToArray());
        Assert.True(kept.lt(cache.Lengths!).any().item<bool>(), "prefill should skip some image tokens");
    }

    [Fact]
    public void TrainModeCachedGenerationAlsoMatchesTheRecompute()
    {
        using var model = Converted(51, new ModConfig([0, 1], SkipRatio: 0.5));
        SpreadRouter(model, 2.0, seed: 52);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(3, 53);
        var (expected, _, _) = Recompute(model, pixels, eos: Eos);
        Assert.Equal(expected.Select(t => t.ToArray()), model.GenerateGreedy(pixels, Prompts, MaxNew, Eos, Pad));
    }
}

internal static class ModTestExtensions
{
    /// <summary>A decoder config carrying this MoD config (for the FLOP model's processed-token count).</summary>
    public static DecoderConfig Text(this ModConfig mod) => TinyConfig().Text with { Mod = mod };
}
