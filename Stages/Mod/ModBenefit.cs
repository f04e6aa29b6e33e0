using Distill.Models;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;
using TorchSharp;

namespace Distill.Stages.Mod;

/// <summary>What the conversion bought, measured on the test prompts with the inference thresholds: the share of image
/// tokens each MoD layer kept, decoder FLOPs, prefill latency and accuracy, of the input student (before) against the
/// MoD student (after). Figures: <c>image_keep_share[.layerN]</c>, <c>decoder_flops_*</c>, <c>prefill_*</c>,
/// <c>lm_prefill_*</c>, <c>prefill_cpu_*</c>, <c>latency_threads</c> (with latency repeats), <c>accuracy_*</c> (with an
/// evaluator).</summary>
public static class ModBenefit
{
    public static void Measure(VisionLanguageModel input, VisionLanguageModel mod, PreparedData data, ModMeasureOptions measure,
        VqaEvaluator? evaluator, string stage, Dictionary<string, double> figures, IStageProgress progress, CancellationToken cancellation)
    {
        var rows = data.Rows("test");
        if (rows.Count == 0) throw new InvalidDataException($"{data.DatasetDir}: the test split is empty: nothing to measure the MoD student on");
        var batches = rows.Chunk(measure.PromptBatch)
            .Select(c => new PromptBatch(c.Select(r => r.Image).ToList(), c.Select(AttentionRank.PromptOf).ToList()))
            .ToList();

        progress.Report(new StageProgress(stage, "measure-routing", 0, 1, 0, double.NaN));
        var shares = ModMeasurement.ImageKeepShares(mod, batches, data.ImageFormat, data.PadId);
        foreach (var (layer, share) in shares) figures[$"image_keep_share.layer{layer}"] = share;
        figures["image_keep_share"] = shares.Count == 0 ? 1 : shares.Values.Average();

        int textTokens = (int)Math.Round(rows.Average(r => r.InputIds.Length - data.ImageTokens));
        long before = ModMeasurement.DecoderFlops(input.Config, textTokens);
        long after = ModMeasurement.DecoderFlops(mod.Config, textTokens, shares);
        figures["decoder_flops_before"] = before;
        figures["decoder_flops_after"] = after;
        figures["decoder_flops_after_training_routing"] = ModMeasurement.DecoderFlops(mod.Config, textTokens);
        figures["decoder_flops_reduction"] = 1 - (double)after / before;

        if (measure.LatencyRepeats > 0)
        {
            cancellation.ThrowIfCancellationRequested();
            progress.Report(new StageProgress(stage, "measure-latency", 0, 1, 0, double.NaN));
            int threads = torch.get_num_threads();
            IReadOnlyList<PrefillTiming> timings;
            try
            {
                if (measure.LatencyThreads > 0) torch.set_num_threads(measure.LatencyThreads);
                figures["latency_threads"] = torch.get_num_threads();
                timings = ModMeasurement.PrefillLatency([input, mod], batches[0], data.ImageFormat, data.PadId, measure.LatencyRepeats);
            }
            finally
            {
                torch.set_num_threads(threads);
            }
            figures["prefill_batch"] = batches[0].Count;
            Compare("prefill_ms", "prefill_reduction", timings[0].PrefillMs, timings[1].PrefillMs);
            Compare("lm_prefill_ms", "lm_prefill_reduction", timings[0].LmPrefillMs, timings[1].LmPrefillMs);
            Compare("prefill_cpu_ms", "prefill_cpu_reduction", timings[0].PrefillCpuMs, timings[1].PrefillCpuMs);
        }

        if (evaluator is not null)
        {
            cancellation.ThrowIfCancellationRequested();
            var accuracy = new Relabelled(progress, stage);
            var (beforeResult, _) = evaluator.Evaluate(input, "mod-input", "test", accuracy, cancellation);
            var (afterResult, _) = evaluator.Evaluate(mod, "student-mod", "test", accuracy, cancellation);
            figures["accuracy_before"] = beforeResult.Overall;
            figures["accuracy_after"] = afterResult.Overall;
            figures["accuracy_change_points"] = (afterResult.Overall - beforeResult.Overall) * 100;
        }

        void Compare(string name, string reduction, double beforeValue, double afterValue)
        {
            figures[$"{name}_before"] = beforeValue;
            figures[$"{name}_after"] = afterValue;
            figures[reduction] = 1 - afterValue / beforeValue;
        }
    }

    /// <summary>The evaluator reports as stage "eval"; inside this stage its updates read "mod / accuracy &lt;model&gt;".</summary>
    private sealed class Relabelled(IStageProgress inner, string stage) : IStageProgress
    {
        public void Report(StageProgress progress) => inner.Report(progress with { Stage = stage, Phase = "accuracy " + progress.Phase });
    }
}
