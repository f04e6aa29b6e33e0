using Distill.Models.Generation;
using System.Diagnostics;
using Distill.Models;
using Distill.Stages.Text;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Evaluation;

/// <summary>Measured speed of one model on a fixed prompt set (see <see cref="SpeedMeasurement"/>). Times are
/// medians over the timed repeats (the warm-up round is not kept).</summary>
/// <param name="Prompts">test prompts measured at batch 1.</param>
/// <param name="Repeats">timed rounds after one warm-up round.</param>
/// <param name="NewTokens">tokens generated per row (eos does not stop a row, so every model does the same work).</param>
/// <param name="Batch">rows of the batched measurement (the eval batch size; the prompts repeated to fill it).</param>
/// <param name="PrefillMs">batch 1: image encoding + LM prefill of one prompt until its first token is known.</param>
/// <param name="TokensPerSecond">batch 1: NewTokens / (prefill + NewTokens - 1 cached decode steps).</param>
/// <param name="BatchPrefillMs">batch <see cref="Batch"/>: the same prefill over the left-padded batch.</param>
/// <param name="BatchTokensPerSecond">batch <see cref="Batch"/>: Batch x NewTokens / (prefill + decode steps).</param>
public sealed record SpeedScore(int Prompts, int Repeats, int NewTokens, int Batch,
    double PrefillMs, double TokensPerSecond, double BatchPrefillMs, double BatchTokensPerSecond)
{
    /// <summary>MoD models: share of the competing (image) tokens the MoD layers processed in the batch-1 prefills
    /// (eval-mode threshold routing), over all MoD layers and prompts; null for a model without MoD layers.</summary>
    public double? ModKeepRatio { get; init; }
}

/// <summary>Speed of a model on the first <c>prompts</c> samples of a split (fixed, in file order): one warm-up
/// round, then <c>repeats</c> timed rounds. Each round generates, greedily with a KV cache, <c>newTokens</c> tokens
/// for every prompt alone (batch 1), then for all prompts repeated to <c>batch</c> rows in one left-padded batch.
/// Timing starts after the images are on the model's device and stops when the tokens are read back, so a GPU is
/// synchronised. Runs under no_grad in eval mode (MoD layers route by their eval thresholds).</summary>
public sealed class SpeedMeasurement
{
    private readonly PreparedData _data;
    private readonly int _prompts, _repeats, _newTokens, _batch;

    public SpeedMeasurement(PreparedData data, int prompts, int repeats, int newTokens, int batch)
    {
        if (prompts < 1 || repeats < 1 || newTokens < 1 || batch < 1)
            throw new ArgumentException($"speed measurement needs prompts, repeats, new tokens and batch >= 1 (got {prompts}, {repeats}, {newTokens}, {batch})");
        _data = data;
        _prompts = prompts;
        _repeats = repeats;
        _newTokens = newTokens;
        _batch = batch;
    }

    public SpeedScore Measure(VisionLanguageModel model, string split, CancellationToken cancellation)
    {
        var samples = _data.Samples(split);
        var rows = _data.Rows(split);
        int n = Math.Min(_prompts, samples.Count);
        if (n == 0) throw new InvalidOperationException($"split '{split}' has no samples to measure speed on");
        var prompts = Enumerable.Range(0, n).Select(i => _data.EncodePrompt(samples[i].Question)).ToList();
        var images = Enumerable.Range(0, n).Select(i => rows[i].Image).ToList();
        var batchRows = Enumerable.Range(0, _batch).Select(i => i % n).ToList();

        model.eval();
        using var noGrad = no_grad();
        using var singles = ImageTensors.FromRgb(images, _data.ImageFormat).to(model.Device);              // [n,3,S,S]
        using var batched = ImageTensors.FromRgb(batchRows.Select(i => images[i]).ToList(), _data.ImageFormat).to(model.Device);
        var batchPrompts = batchRows.Select(i => prompts[i]).ToList();

        var prefill = new List<double>();
        var perToken = new List<double>();
        var batchPrefill = new List<double>();
        var batchTotal = new List<double>();
        var routing = new long[2]; // competing tokens, competing tokens processed (MoD layers, batch-1 prefills)
        for (int round = 0; round <= _repeats; round++)
        {
            bool keep = round > 0;
            for (int i = 0; i < n; i++)
            {
                cancellation.ThrowIfCancellationRequested();
                using var one = singles.narrow(0, i, 1);
                var (p, total) = Generate(model, one, [prompts[i]], round == 0 ? routing : null);
                if (!keep) continue;
                prefill.Add(p);
                perToken.Add(total);
            }
            cancellation.ThrowIfCancellationRequested();
            var (bp, bt) = Generate(model, batched, batchPrompts);
            if (!keep) continue;
            batchPrefill.Add(bp);
            batchTotal.Add(bt);
        }
        return new SpeedScore(n, _repeats, _newTokens, _batch,
            PrefillMs: Median(prefill),
            TokensPerSecond: _newTokens / (Median(perToken) / 1000),
            BatchPrefillMs: Median(batchPrefill),
            BatchTokensPerSecond: (double)_batch * _newTokens / (Median(batchTotal) / 1000))
        {
            ModKeepRatio = model.ModLayers.Count == 0 || routing[0] == 0 ? null : (double)routing[1] / routing[0],
        };
    }

    /// <summary>Greedy generation of exactly <see cref="_newTokens"/> tokens per row. Returns milliseconds until the
    /// first tokens are known (prefill) and until the last are (total). With <paramref name="routing"/>, the prefill's
    /// MoD routing counts are added to it.</summary>
    private (double PrefillMs, double TotalMs) Generate(VisionLanguageModel model, Tensor pixels, IReadOnlyList<int[]> prompts, long[]? routing = null)
    {
        using var scope = NewDisposeScope();
        using var cache = model.NewKvCache(prompts.Max(p => p.Length) + _newTokens);
        var clock = Stopwatch.StartNew();
        var features = model.EncodeImages(pixels);                                                    // [B,N,Dt]
        var (ids, mask) = model.LeftPad(prompts.Select(p => (IReadOnlyList<int>)p).ToList(), _data.PadId); // [B,L]
        var next = model.Prefill(features, ids, mask, cache, lastOnly: true).argmax(-1);              // [B,1]
        next.cpu().data<long>();                                                                      // first tokens known
        double prefillMs = clock.Elapsed.TotalMilliseconds;
        if (routing is not null) CountModRouting(model, routing);
        clock.Restart();
        for (int step = 1; step < _newTokens; step++)
        {
            using var stepScope = NewDisposeScope();
            var following = model.DecodeStep(next, cache).argmax(-1).MoveToOuterDisposeScope();        // [B,1]
            next = following;
        }
        next.cpu().data<long>();
        return (prefillMs, prefillMs + clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>Adds the last forward's competing and processed competing tokens of every MoD layer.</summary>
    private static void CountModRouting(VisionLanguageModel model, long[] counts)
    {
        foreach (var layer in model.ModLayers)
        {
            if (layer.LastRouting is not { } routing) continue;
            counts[0] += routing.Competing.Sum();
            counts[1] += routing.CompetingProcessed.Sum();
        }
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
