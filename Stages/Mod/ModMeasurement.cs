using Distill.Models.Generation;
using System.Diagnostics;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Models.Config;
using Distill.Models.Mod;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Mod;

/// <summary>A batch of prompts for prefill measurements: images (RGB bytes) and prompt ids (image tokens included).</summary>
public sealed record PromptBatch(IReadOnlyList<byte[]> Images, IReadOnlyList<int[]> Prompts)
{
    public int Count => Prompts.Count;
}

/// <summary>Medians of timed prefills, in milliseconds: <see cref="PrefillMs"/> = image encoding + LM prefill to the
/// last position's logits (time to first token, wall clock); <see cref="LmPrefillMs"/> = the LM prefill alone (image
/// features given); <see cref="PrefillCpuMs"/> = CPU time the process spent during the whole prefill, all threads (on a
/// machine shared with other busy processes wall-clock times swing with their load, CPU time much less).</summary>
public sealed record PrefillTiming(double PrefillMs, double LmPrefillMs, double PrefillCpuMs);

/// <summary>What gamma-MoD changes, measured on real prompts: the share of image tokens each MoD layer keeps under the
/// inference thresholds, the decoder FLOPs that follow from it, and prefill latency.</summary>
public static class ModMeasurement
{
    /// <summary>Per MoD layer (index -> share), the share of image tokens the layer processed over the prefill of every
    /// batch, in eval mode (the prefill threshold decides), under no_grad. Empty for a model without MoD layers. The
    /// model's mode is restored afterwards.</summary>
    public static IReadOnlyDictionary<int, double> ImageKeepShares(VisionLanguageModel model, IEnumerable<PromptBatch> batches,
        ImageFormat imageFormat, int padId)
    {
        var wrappers = model.LanguageModel.Model.Routes.Select(r => r as ModDecoderLayer).ToList();
        var layers = Enumerable.Range(0, wrappers.Count).Where(i => wrappers[i] is not null).ToArray();
        if (layers.Length == 0) return new Dictionary<int, double>();
        var kept = new long[wrappers.Count];
        var competing = new long[wrappers.Count];
        var wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = torch.no_grad();
            foreach (var batch in batches)
            {
                using var scope = torch.NewDisposeScope();
                var (ids, mask) = model.LeftPad(batch.Prompts.Select(p => (IReadOnlyList<int>)p).ToList(), padId); // [B,T]
                var features = model.EncodeImages(ImageTensors.FromRgb(batch.Images, imageFormat));                // [B,N,D]
                model.HiddenStates(features, ids, mask);                                                         // [B,T,D]
                foreach (var i in layers)
                {
                    var routing = wrappers[i]!.LastRouting!;
                    kept[i] += routing.CompetingProcessed.Sum();
                    competing[i] += routing.Competing.Sum();
                }
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return layers.ToDictionary(i => i, i => competing[i] == 0 ? 1.0 : (double)kept[i] / competing[i]);
    }

    /// <summary>Decoder FLOPs (layers + LM head) of one sample of <paramref name="imageTokens"/> image and
    /// <paramref name="textTokens"/> text tokens (<see cref="FlopAccounting"/>), each MoD layer processing the share of
    /// image tokens given for it in <paramref name="keepShares"/> (a MoD layer missing there keeps 1 - skip ratio, what
    /// training does).</summary>
    public static long DecoderFlops(VlmConfig config, int textTokens, IReadOnlyDictionary<int, double>? keepShares = null)
    {
        var text = config.Text;
        int image = config.ImageFeatures;
        long layers = 0;
        for (int i = 0; i < text.Layers; i++)
        {
            double? keep = keepShares is not null && keepShares.TryGetValue(i, out var share) ? share : null;
            layers += FlopAccounting.DecoderLayer(text, i, new SequenceShape(image, textTokens, keep)).Total;
        }
        return layers + FlopAccounting.Forward(config, new SequenceShape(image, textTokens)).LmHead;
    }

    /// <summary>Prefill latency of each model on the same batch: one warm-up round, then <paramref name="repeats"/>
    /// rounds that go through the models in turn (so load from other processes spreads over all of them); the median
    /// per model. Eval mode, no_grad, batch = the prompts given. Each model's mode is restored afterwards.</summary>
    public static IReadOnlyList<PrefillTiming> PrefillLatency(IReadOnlyList<VisionLanguageModel> models, PromptBatch batch,
        ImageFormat imageFormat, int padId, int repeats)
    {
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "at least one timed repeat");
        var modes = models.Select(m => m.training).ToArray();
        var total = models.Select(_ => new List<double>()).ToArray();
        var lm = models.Select(_ => new List<double>()).ToArray();
        var cpu = models.Select(_ => new List<double>()).ToArray();
        foreach (var m in models) m.eval();
        try
        {
            using var noGrad = torch.no_grad();
            using var pixels = ImageTensors.FromRgb(batch.Images, imageFormat);
            for (int round = 0; round <= repeats; round++)
            {
                for (int k = 0; k < models.Count; k++)
                {
                    var (all, languageModel, processor) = TimePrefill(models[k], pixels, batch.Prompts, padId);
                    if (round == 0) continue;                                            // warm-up
                    total[k].Add(all);
                    lm[k].Add(languageModel);
                    cpu[k].Add(processor);
                }
            }
        }
        finally
        {
            for (int k = 0; k < models.Count; k++) models[k].train(modes[k]);
        }
        return Enumerable.Range(0, models.Count).Select(k => new PrefillTiming(Median(total[k]), Median(lm[k]), Median(cpu[k]))).ToList();
    }

    /// <summary>One prefill as generation runs it: left-pad, encode the images, prefill the KV cache, logits of the
    /// last position. Returns (whole, LM part, process CPU time of the whole) in milliseconds.</summary>
    private static (double All, double LanguageModel, double Cpu) TimePrefill(VisionLanguageModel model, Tensor pixels, IReadOnlyList<int[]> prompts, int padId)
    {
        using var scope = torch.NewDisposeScope();
        using var process = Process.GetCurrentProcess();
        var cpuStart = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var (ids, mask) = model.LeftPad(prompts.Select(p => (IReadOnlyList<int>)p).ToList(), padId);     // [B,T]
        var features = model.EncodeImages(pixels);                                                      // [B,N,D]
        var lmStart = clock.Elapsed;
        using var cache = model.NewKvCache(ids.shape[1]);
        var logits = model.Prefill(features, ids, mask, cache, lastOnly: true);                         // [B,1,V]
        logits.cpu();                                                                                   // results are ready (device sync)
        clock.Stop();
        process.Refresh();
        return (clock.Elapsed.TotalMilliseconds, (clock.Elapsed - lmStart).TotalMilliseconds,
            (process.TotalProcessorTime - cpuStart).TotalMilliseconds);
    }

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
