using System.Diagnostics;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Models.Config;
using Distill.Models.Mod;
using Distill.Models.Moe;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Pipeline.Bench;

/// <summary>One model of the benchmark: its configuration (after upcycling / conversion) and how to build it.</summary>
/// <param name="Name">row name: teacher, student-dense, student-moe, student-mod-0, -25, -50, -75.</param>
/// <param name="Kind">teacher, dense, moe or mod.</param>
/// <param name="ModSkip">MoD skip ratio; null for a model without MoD layers.</param>
/// <param name="Config">the configuration the built model has (accounting is computed from it).</param>
public sealed record BenchModelSpec(string Name, string Kind, double? ModSkip, VlmConfig Config, Func<VisionLanguageModel> Build)
{
    /// <summary>MoD rows run the masked top-k (training-style) routing, under no_grad; every other row eval mode.</summary>
    public bool TrainingStyleRouting => ModSkip is not null;
}

/// <summary>Measured and accounted figures of one model. Times are medians in milliseconds; FLOPs are forward
/// FLOPs of one sample of the workload (<see cref="FlopAccounting"/>); comparisons are null where they do not apply.</summary>
public sealed record ModelBenchRow(
    string Model,
    string Kind,
    double? ModSkip,
    string Routing,
    long ParamsTotal,
    long ParamsActivated,
    long FlopsPerSample,
    long DecoderFlopsPerSample,
    double FlopsPerToken,
    double DecoderFlopsPerToken,
    double ForwardMs,
    double ForwardTokensPerSecond,
    double AchievedGflops,
    double PrefillMs,
    double DecodeMsPerToken)
{
    /// <summary>MoE row: (forward time MoE / dense student) / (FLOPs MoE / dense student); 1 = the MoE costs exactly
    /// what its FLOPs say, above 1 = routing, gathering and per-expert matmuls cost extra.</summary>
    public double? MoeOverhead { get; init; }

    /// <summary>MoD rows: forward time at skip 0 / forward time at this skip ratio.</summary>
    public double? ModForwardSpeedup { get; init; }

    /// <summary>MoD rows: prefill latency at skip 0 / at this skip ratio.</summary>
    public double? ModPrefillSpeedup { get; init; }

    /// <summary>MoD rows: decode latency per token at skip 0 / at this skip ratio.</summary>
    public double? ModDecodeSpeedup { get; init; }

    /// <summary>Batched prefill latency (ms): image encoding + LM prefill of <see cref="BenchWorkload.Batch"/> prompts at
    /// once, as generation over a batch of test prompts runs it (where MoD's smaller matrices pay off; at batch 1 the
    /// fixed cost of each small operation dominates).</summary>
    public double BatchPrefillMs { get; init; }

    /// <summary>MoD rows: batched prefill latency at skip 0 / at this skip ratio.</summary>
    public double? ModBatchPrefillSpeedup { get; init; }

    /// <summary>MoD rows: forward FLOPs per sample at skip 0 / at this skip ratio (the speed-up the FLOPs predict).</summary>
    public double? ModFlopReduction { get; init; }

    /// <summary>MoD rows: decoder FLOPs per sample at skip 0 / at this skip ratio.</summary>
    public double? ModDecoderFlopReduction { get; init; }
}

/// <summary>The outcome of <see cref="ModelBench.Run"/>: rows in model order and the notes that say how they were taken.</summary>
public sealed record ModelBenchResult(BenchWorkload Workload, int Repeats, int Threads, IReadOnlyList<ModelBenchRow> Rows, IReadOnlyList<string> Notes);

/// <summary>Speed of the model variants the pipeline builds (DESIGN 9: performance is measured by <c>distill bench</c>,
/// not by tests): teacher, dense student, MoE student (sparse upcycling with <see cref="MoeConfig"/> defaults) and MoD
/// students at <see cref="ModSkipRatios"/>. Every model is randomly initialised with a fixed seed: its speed does not
/// depend on its weights, except through MoE/MoD routing, which the benchmark pins (see the notes).
/// <para>Per model: forward tokens/s (vision + projector + LM over whole samples, batch <see cref="BenchWorkload.Batch"/>,
/// no_grad), prefill latency (image encoding + LM prefill of the prompt to the first logits, batch 1) and decode
/// latency per token (one cached <see cref="VisionLanguageModel.DecodeStep"/>, batch 1). All models are built first;
/// then one warm-up round and <c>repeats</c> timed rounds each time every model in turn (round-robin, so load from
/// another process spreads over the models); the median per model is reported.</para></summary>
public static class ModelBench
{
    /// <summary>Skip ratios of the MoD students.</summary>
    public static readonly IReadOnlyList<double> ModSkipRatios = [0.0, 0.25, 0.5, 0.75];

    /// <summary>MoD layers of a decoder with <paramref name="layers"/> layers: all but the first (gamma-MoD keeps the
    /// first layers dense), or layer 0 alone when there is only one.</summary>
    public static int[] ModLayers(int layers) =>
        layers >= 2 ? Enumerable.Range(1, layers - 1).ToArray() : [0];

    /// <summary>Name of the MoD row with skip ratio <paramref name="skip"/>: student-mod-0, -25, -50, -75.</summary>
    public static string ModName(double skip) => $"student-mod-{Math.Round(skip * 100):0}";

    /// <summary>The models, in row order. Each build seeds the global torch RNG with <paramref name="seed"/> first,
    /// so the dense student, the MoE student and the MoD students share their dense weights.</summary>
    public static IReadOnlyList<BenchModelSpec> Specs(DistillSettings settings, BenchWorkload workload, int seed)
    {
        var teacher = ModelConfigs.Teacher(settings, workload.VocabSize, workload.ImageTokenId);
        var student = ModelConfigs.Student(settings, workload.VocabSize, workload.ImageTokenId);
        var moe = new MoeConfig();
        var specs = new List<BenchModelSpec>
        {
            new("teacher", "teacher", null, teacher, () => Seeded(seed, () => new VisionLanguageModel(teacher))),
            new("student-dense", "dense", null, student, () => Seeded(seed, () => new VisionLanguageModel(student))),
            new("student-moe", "moe", null, student with { Text = student.Text with { Moe = moe } },
                () => Seeded(seed, () => new VisionLanguageModel(student).UpcycleToMoe(moe))),
        };
        foreach (var skip in ModSkipRatios)
        {
            var mod = new ModConfig(ModLayers(student.Text.Layers), SkipRatio: skip);
            specs.Add(new(ModName(skip), "mod", skip, student with { Text = student.Text with { Mod = mod } },
                () => Seeded(seed, () => new VisionLanguageModel(student).ConvertToMod(mod))));
        }
        return specs;
    }

    /// <summary>Builds and measures every model of <see cref="Specs"/>; <paramref name="log"/> gets one line per model.
    /// Throws <see cref="ArgumentException"/> when the workload does not fit the model (more positions than
    /// <c>distill.model.max-positions</c>).</summary>
    public static ModelBenchResult Run(DistillSettings settings, BenchWorkload workload, int repeats, Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(workload);
        if (repeats < 1) throw new ArgumentException($"repeats must be at least 1, got {repeats}.");
        if (workload.Batch < 1 || workload.DecodeSteps < 1)
            throw new ArgumentException($"batch ({workload.Batch}) and decode steps ({workload.DecodeSteps}) must be at least 1.");
        var positions = Math.Max(workload.Tokens, workload.PromptTokens + workload.DecodeSteps);
        if (positions > settings.Model.MaxPositions)
            throw new ArgumentException(
                $"the benchmark needs {positions} positions, more than distill.model.max-positions = {settings.Model.MaxPositions}.");

        var inputs = BenchInputs.Create(workload, settings.Data.ImageSize, settings.Seed);
        var models = new List<Measured>();
        try
        {
            foreach (var spec in Specs(settings, workload, settings.Seed))
                models.Add(Measured.Build(spec, workload));
            using (torch.no_grad())
            {
                // Round-robin over the models in every repeat (after one warm-up round), so that a burst of load from
                // another process slows every model a little instead of one model a lot.
                for (var r = 0; r <= repeats; r++)
                {
                    foreach (var m in models)
                    {
                        ct.ThrowIfCancellationRequested();
                        m.TimeForward(inputs, keep: r > 0);
                    }
                    foreach (var m in models)
                    {
                        ct.ThrowIfCancellationRequested();
                        m.TimePrefillAndDecode(inputs, workload, keep: r > 0);
                    }
                }
            }
            var rows = models.Select(m => m.Row(workload)).ToList();
            foreach (var row in rows)
                log?.Invoke($"  {row.Model,-16} forward {row.ForwardTokensPerSecond,10:0} tokens/s  prefill {row.PrefillMs,8:0.000} ms  batched prefill {row.BatchPrefillMs,9:0.000} ms  decode {row.DecodeMsPerToken,8:0.000} ms/token");
            return new ModelBenchResult(workload, repeats, torch.get_num_threads(), Compare(rows), Notes(settings, workload, repeats));
        }
        finally
        {
            foreach (var m in models) m.Dispose();
            inputs.Dispose();
        }
    }

    /// <summary>Fills the MoE overhead (vs student-dense) and the MoD speed-ups and FLOP reductions (vs student-mod-0).</summary>
    internal static IReadOnlyList<ModelBenchRow> Compare(IReadOnlyList<ModelBenchRow> rows)
    {
        var dense = rows.FirstOrDefault(r => r.Kind == "dense");
        var mod0 = rows.FirstOrDefault(r => r.Kind == "mod" && r.ModSkip == 0);
        return rows.Select(r => r.Kind switch
        {
            "moe" when dense is not null => r with
            {
                MoeOverhead = r.ForwardMs / dense.ForwardMs / ((double)r.FlopsPerSample / dense.FlopsPerSample),
            },
            "mod" when mod0 is not null => r with
            {
                ModForwardSpeedup = mod0.ForwardMs / r.ForwardMs,
                ModPrefillSpeedup = mod0.PrefillMs / r.PrefillMs,
                ModBatchPrefillSpeedup = mod0.BatchPrefillMs / r.BatchPrefillMs,
                ModDecodeSpeedup = mod0.DecodeMsPerToken / r.DecodeMsPerToken,
                ModFlopReduction = (double)mod0.FlopsPerSample / r.FlopsPerSample,
                ModDecoderFlopReduction = (double)mod0.DecoderFlopsPerSample / r.DecoderFlopsPerSample,
            },
            _ => r,
        }).ToList();
    }

    private static VisionLanguageModel Seeded(int seed, Func<VisionLanguageModel> build)
    {
        torch.manual_seed(seed);
        return build();
    }

    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static List<string> Notes(DistillSettings settings, BenchWorkload w, int repeats)
    {
        var student = settings.Model.Student;
        var moe = new MoeConfig();
        var moeLayers = moe.LayerIndices(student.Layers);
        var modLayers = ModLayers(student.Layers);
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "unknown";
        return
        [
            $"Weights are random (torch seed {settings.Seed}); speed does not depend on training. The dense, MoE and MoD students share their dense weights.",
            $"Workload: {w.ImageTokens} image tokens + {w.PromptTextTokens} prompt text tokens + {w.AnswerTokens} answer tokens = {w.Tokens} tokens per sample ({w.Source}).",
            $"Forward: vision tower + projector + LM with logits at every position, batch {w.Batch}, under no_grad; tokens/s = batch x {w.Tokens} / median time; GFLOP/s = accounted FLOPs per sample x batch / median time.",
            $"Prefill: batch 1, image encoding + LM prefill of the {w.PromptTokens}-token prompt up to the last position's logits (time to first token). Batched prefill: the same for {w.Batch} prompts at once (as generation over a batch of test prompts runs it). Decode: batch 1, one KV-cached step, median over {w.DecodeSteps} steps of every repeat.",
            $"Timing: one warm-up round, then {repeats} timed round(s), each round going through every model in turn (so a burst of load from another process is spread over the models); the median per model; torch threads {torch.get_num_threads()} on {Environment.ProcessorCount} cores; load average at start {load}. Other processes on the machine slow every row; compare rows of one run, not runs.",
            $"FLOPs: FlopAccounting (matrix products only; the LM head on every position); 'decoder' = decoder layers + LM head. Parameters: ParameterAccounting (checked against the built model); activated = per token (MoE: shared + k experts).",
            $"MoE student: the dense student upcycled with E={moe.Experts}, k={moe.TopK}, every-other placement (layers {string.Join(",", moeLayers)}), eval mode (capacity factor {moe.EvalCapacityFactor}; tokens over capacity are dropped, which the FLOPs do not subtract). MoE overhead = (MoE forward time / dense forward time) / (MoE FLOPs / dense FLOPs): 1 = the MoE costs what its FLOPs say.",
            $"MoD students: the dense student with layers {string.Join(",", modLayers)} converted (one shared random router). A random router gives p close to 0.5 for every token, so the eval thresholds would not hold the skip ratio; every MoD row therefore runs the masked training-style routing under no_grad (model.train()): each MoD layer processes exactly the top ceil((1 - skip) x image tokens) by p plus all text tokens, as the FLOPs assume, in the forward and the prefill. Decode: a generated token is always processed in this mode, so decode gains come only from the shorter MoD-layer KV caches.",
            "MoD speed-up = time at skip 0 / time at the row's skip ratio; FLOP reduction = FLOPs at skip 0 / FLOPs at the row's skip ratio (forward: whole model, which includes the unchanged vision tower; decoder: LM only). Skip 0 pays the router but skips nothing.",
        ];
    }
}

/// <summary>One model under measurement: built, checked against the accounting, and its timings so far.</summary>
internal sealed class Measured : IDisposable
{
    private readonly List<double> _forward = [], _prefill = [], _batchPrefill = [], _decode = [];

    private Measured(BenchModelSpec spec, VisionLanguageModel model, ParameterBreakdown parameters, FlopBreakdown flops)
    {
        Spec = spec;
        Model = model;
        Parameters = parameters;
        Flops = flops;
    }

    public BenchModelSpec Spec { get; }
    public VisionLanguageModel Model { get; }
    public ParameterBreakdown Parameters { get; }
    public FlopBreakdown Flops { get; }

    /// <summary>Builds the model, checks its config and parameter count against the accounting, and sets its mode
    /// (MoD: train, for the masked top-k routing; all others: eval).</summary>
    public static Measured Build(BenchModelSpec spec, BenchWorkload workload)
    {
        var model = spec.Build();
        try
        {
            if (model.Config != spec.Config)
                throw new InvalidOperationException($"{spec.Name}: the built model's config {model.Config} is not the benchmark's {spec.Config}.");
            var parameters = ParameterAccounting.Count(spec.Config);
            if (parameters.Total != model.ParameterCount())
                throw new InvalidOperationException(
                    $"{spec.Name}: parameter accounting says {parameters.Total}, the model holds {model.ParameterCount()}.");
            var flops = FlopAccounting.Forward(spec.Config, SequenceShape.ForImage(spec.Config, workload.TextTokens));
            if (spec.TrainingStyleRouting) model.train();
            else model.eval();
            return new Measured(spec, model, parameters, flops);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>One batched forward (call under no_grad); its time is kept when <paramref name="keep"/>.</summary>
    public void TimeForward(BenchInputs inputs, bool keep)
    {
        var clock = Stopwatch.StartNew();
        using (var logits = Model.Forward(inputs.Pixels, inputs.Ids)) clock.Stop();
        if (keep) _forward.Add(clock.Elapsed.TotalMilliseconds);
    }

    /// <summary>One prefill (image encoding + LM prefill, batch 1), one batched prefill (the forward batch's prompts) and
    /// the decode steps after the first (call under no_grad).</summary>
    public void TimePrefillAndDecode(BenchInputs inputs, BenchWorkload workload, bool keep)
    {
        using var scope = torch.NewDisposeScope();
        using var cache = Model.NewKvCache(workload.PromptTokens + workload.DecodeSteps);
        var clock = Stopwatch.StartNew();
        var features = Model.EncodeImages(inputs.Pixel);
        Model.Prefill(features, inputs.Prompt, null, cache, lastOnly: true);
        clock.Stop();
        if (keep) _prefill.Add(clock.Elapsed.TotalMilliseconds);
        using (var batchCache = Model.NewKvCache(workload.PromptTokens))
        {
            clock.Restart();
            var batchFeatures = Model.EncodeImages(inputs.Pixels);
            Model.Prefill(batchFeatures, inputs.Prompts, null, batchCache, lastOnly: true);
            clock.Stop();
            if (keep) _batchPrefill.Add(clock.Elapsed.TotalMilliseconds);
        }
        foreach (var token in inputs.DecodeTokens)
        {
            clock.Restart();
            using (var logits = Model.DecodeStep(token, cache)) clock.Stop();
            if (keep) _decode.Add(clock.Elapsed.TotalMilliseconds);
        }
    }

    /// <summary>The row: accounting and the medians of the kept timings.</summary>
    public ModelBenchRow Row(BenchWorkload workload)
    {
        var forwardMs = ModelBench.Median(_forward);
        var seconds = forwardMs / 1000.0;
        return new ModelBenchRow(
            Model: Spec.Name,
            Kind: Spec.Kind,
            ModSkip: Spec.ModSkip,
            Routing: Spec.TrainingStyleRouting ? "masked top-k" : Spec.Kind == "moe" ? "eval top-k" : "dense",
            ParamsTotal: Parameters.Total,
            ParamsActivated: Parameters.Activated,
            FlopsPerSample: Flops.Total,
            DecoderFlopsPerSample: Flops.Decoder,
            FlopsPerToken: Flops.PerToken,
            DecoderFlopsPerToken: Flops.DecoderPerToken,
            ForwardMs: forwardMs,
            ForwardTokensPerSecond: (double)workload.Batch * workload.Tokens / seconds,
            AchievedGflops: (double)Flops.Total * workload.Batch / seconds / 1e9,
            PrefillMs: ModelBench.Median(_prefill),
            DecodeMsPerToken: ModelBench.Median(_decode))
        {
            BatchPrefillMs = ModelBench.Median(_batchPrefill),
        };
    }

    public void Dispose() => Model.Dispose();
}

/// <summary>Fixed random inputs of a benchmark: pixels and ids in the chat-template layout
/// (bos, user, image x N, question words, assistant, answer words, eos).</summary>
internal sealed class BenchInputs : IDisposable
{
    private const int Bos = 1, Eos = 2, User = 5, Assistant = 6, FirstWord = 7;

    private BenchInputs(Tensor pixels, Tensor ids, Tensor pixel, Tensor prompt, Tensor prompts, IReadOnlyList<Tensor> decodeTokens)
    {
        Pixels = pixels;
        Ids = ids;
        Prompts = prompts;
        Pixel = pixel;
        Prompt = prompt;
        DecodeTokens = decodeTokens;
    }

    /// <summary>[B,3,S,S] and [B,T]: the batched forward.</summary>
    public Tensor Pixels { get; }
    public Tensor Ids { get; }

    /// <summary>[B,T_prompt]: the batched prefill (with <see cref="Pixels"/>).</summary>
    public Tensor Prompts { get; }

    /// <summary>[1,3,S,S] and [1,T_prompt]: the prefill.</summary>
    public Tensor Pixel { get; }
    public Tensor Prompt { get; }

    /// <summary>One [1,1] id per decode step.</summary>
    public IReadOnlyList<Tensor> DecodeTokens { get; }

    public static BenchInputs Create(BenchWorkload w, int imageSize, int seed)
    {
        var random = new Random(seed);
        int Word() => w.VocabSize > FirstWord ? random.Next(FirstWord, w.VocabSize) : Math.Max(0, w.VocabSize - 1);
        long[] Row()
        {
            var ids = new List<long> { Bos, User };
            ids.AddRange(Enumerable.Repeat((long)w.ImageTokenId, w.ImageTokens));
            for (var i = 0; i < w.PromptTextTokens - 3; i++) ids.Add(Word());
            ids.Add(Assistant);
            for (var i = 0; i < w.AnswerTokens - 1; i++) ids.Add(Word());
            ids.Add(Eos);
            return [.. ids];
        }

        var rows = Enumerable.Range(0, w.Batch).SelectMany(_ => Row()).ToArray();
        var tokens = rows.Length / w.Batch;
        torch.manual_seed(seed);
        var pixels = torch.rand(w.Batch, 3, imageSize, imageSize);
        var ids = torch.tensor(rows, [w.Batch, tokens]);
        var pixel = pixels.narrow(0, 0, 1).clone();
        var prompt = ids.narrow(0, 0, 1).narrow(1, 0, w.PromptTokens).clone();
        var prompts = ids.narrow(1, 0, w.PromptTokens).clone();
        var decode = Enumerable.Range(0, w.DecodeSteps).Select(_ => torch.tensor(new long[] { Word() }, [1, 1])).ToList();
        return new BenchInputs(pixels, ids, pixel, prompt, prompts, decode);
    }

    public void Dispose()
    {
        Pixels.Dispose();
        Ids.Dispose();
        Pixel.Dispose();
        Prompt.Dispose();
        Prompts.Dispose();
        foreach (var t in DecodeTokens) t.Dispose();
    }
}
