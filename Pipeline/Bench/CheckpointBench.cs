using Distill.Pipeline.Runs;
using System.Diagnostics;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Torch;
using static TorchSharp.torch;

namespace Distill.Pipeline.Bench;

/// <summary>One dtype of <see cref="CheckpointBench"/>: the checkpoint file, how long loading it took and how much
/// memory it needed, and the loaded model's forward speed next to a plain matmul's in the same dtype.</summary>
/// <param name="PeakRssBytes">the most the process's resident memory rose above its level before the load, during
/// the load (null where /proc/self is not there).</param>
/// <param name="RetainedRssBytes">how much higher the resident memory is after the load (the model itself).</param>
public sealed record CheckpointBenchRow(
    string DType,
    long Parameters,
    long FileBytes,
    double WriteSeconds,
    double LoadSeconds,
    long? PeakRssBytes,
    long? RetainedRssBytes,
    int Batch,
    int Tokens,
    double ForwardMs,
    double TokensPerSecond,
    double AchievedGflops,
    double MatmulGflops);

public sealed record CheckpointBenchResult(string Size, DecoderConfig Config, int Repeats, int Threads, IReadOnlyList<CheckpointBenchRow> Rows, IReadOnlyList<string> Notes);

/// <summary>Loading a real-sized Hugging Face checkpoint: a random Llama of <see cref="BenchCheckpoints"/>' size is
/// written as <c>model.safetensors</c> + <c>config.json</c> to a temporary folder in float32 and in bfloat16, each is
/// loaded through <see cref="Checkpoint.LoadCausalLm"/> in its own dtype (time and peak resident memory), and the
/// loaded model's forward pass over a batch of token ids is timed (tokens/s; achieved GFLOP/s from
/// <see cref="FlopAccounting"/>), with an [n, n] matmul's GFLOP/s in the same dtype measured in the same run.</summary>
public static class CheckpointBench
{
    public const int Batch = 1, Tokens = 128;

    public static CheckpointBenchResult Run(string size, int repeats, int seed, Action<string>? log = null, CancellationToken ct = default)
    {
        var config = BenchCheckpoints.Config(size) ?? throw new ArgumentException("no checkpoint size to measure", nameof(size));
        var parameters = ParameterAccounting.Count(config).Total;
        var dir = BenchCheckpoints.TempDirectory();
        try
        {
            var rows = new List<CheckpointBenchRow>();
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
            {
                ct.ThrowIfCancellationRequested();
                var modelDir = Path.Combine(dir, DTypeName(dtype));
                var write = Write(config, new Placement(DType: dtype), modelDir, seed);
                log?.Invoke($"  {DTypeName(dtype),-8} wrote {parameters:N0} parameters ({Human(FileBytes(modelDir))}) in {write:0.0} s to {modelDir}");
                rows.Add(Measure(config, dtype, modelDir, parameters, write, repeats, seed, ct));
                var r = rows[^1];
                log?.Invoke($"  {r.DType,-8} load {r.LoadSeconds:0.00} s, peak RSS +{Human(r.PeakRssBytes)}, retained +{Human(r.RetainedRssBytes)}; " +
                            $"forward {r.TokensPerSecond:0} tokens/s = {r.AchievedGflops:0.0} GFLOP/s (matmul {r.MatmulGflops:0.0} GFLOP/s)");
                Directory.Delete(modelDir, recursive: true);
            }
            return new CheckpointBenchResult(size, config, repeats, get_num_threads(), rows, Notes(size, config, parameters, repeats));
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Builds a seeded random model in <paramref name="placement"/> and writes it as a Hugging Face
    /// directory; returns the seconds the write took (not the build).</summary>
    public static double Write(DecoderConfig config, Placement placement, string directory, int seed)
    {
        manual_seed(seed);
        using var model = DecoderFactory.Create(config, placement);
        var watch = Stopwatch.StartNew();
        Checkpoint.Save(model, directory);
        return watch.Elapsed.TotalSeconds;
    }

    private static CheckpointBenchRow Measure(DecoderConfig config, ScalarType dtype, string modelDir, long parameters, double write,
        int repeats, int seed, CancellationToken ct)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        ProcessMemory.ReleaseFreed();
        var rssBefore = ProcessMemory.Rss;
        var peakReset = ProcessMemory.ResetPeak();
        var watch = Stopwatch.StartNew();
        using var model = Checkpoint.LoadCausalLm(modelDir, new Placement(DType: dtype));
        var load = watch.Elapsed.TotalSeconds;
        long? peak = peakReset && rssBefore is { } before && ProcessMemory.Peak is { } high ? high - before : null;
        long? retained = rssBefore is { } b && ProcessMemory.Rss is { } after ? after - b : null;
        model.eval();

        var forward = ForwardSeconds(model, repeats, seed, ct);
        var flops = FlopAccounting.Forward(config, Tokens).Total * (double)Batch;
        return new CheckpointBenchRow(DTypeName(dtype), parameters, FileBytes(modelDir), write, load, peak, retained, Batch, Tokens,
            forward * 1000, Batch * Tokens / forward, flops / forward / 1e9, MatmulProbe.Gflops(dtype, MatmulProbe.SizeFor(config.HiddenSize)));
    }

    /// <summary>Median seconds of one no_grad forward over [Batch, Tokens] random ids, after one warm-up.</summary>
    public static double ForwardSeconds(LlamaForCausalLM model, int repeats, int seed, CancellationToken ct = default)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var generator = new TorchSharp.torch.Generator((ulong)seed);
        var ids = randint(0, model.Config.VocabSize, [Batch, Tokens], dtype: ScalarType.Int64, generator: generator);
        var times = new List<double>();
        for (var r = 0; r <= repeats; r++)
        {
            ct.ThrowIfCancellationRequested();
            var watch = Stopwatch.StartNew();
            using var logits = model.ForwardIds(ids);
            watch.Stop();
            if (r > 0) times.Add(watch.Elapsed.TotalSeconds);
        }
        return ModelBench.Median(times);
    }

    public static string DTypeName(ScalarType dtype) => dtype == ScalarType.BFloat16 ? "bfloat16" : "float32";

    private static long FileBytes(string directory) => Directory.EnumerateFiles(directory).Sum(f => new FileInfo(f).Length);

    internal static string Human(long? bytes) => bytes is not { } b ? "n/a"
        : b >= 1L << 30 ? $"{b / (double)(1L << 30):0.00} GiB" : $"{b / (double)(1L << 20):0.0} MiB";

    private static List<string> Notes(string size, DecoderConfig config, long parameters, int repeats) =>
    [
        $"Checkpoint: a random Llama ('{size}': d {config.HiddenSize}, {config.Layers} layers, {config.Heads} heads, {config.KvHeads} KV heads, FFN {config.IntermediateSize}, vocabulary {config.VocabSize}; {parameters:N0} parameters), written by Distill as model.safetensors + config.json to a temporary folder (deleted afterwards) in each dtype, then loaded in that dtype by the ordinary loader (streamed: one tensor at a time from the file into the model built in place).",
        "Load: wall time of Checkpoint.LoadCausalLm, with the file just written (page cache warm; a cold read adds the disk's time). Peak RSS: the highest resident memory during the load above the level before it (VmHWM after resetting it through /proc/self/clear_refs, with freed memory first handed back by malloc_trim); retained: the rise that stays (the model). A loader that held the checkpoint twice would show a peak near twice the retained figure.",
        $"Forward: batch {Batch} x {Tokens} random token ids, logits at every position, no_grad, eval; median of {repeats} after one warm-up; GFLOP/s = FlopAccounting (matrix products only) / median time. Matmul: [n, n] x [n, n] in the same dtype (n = the hidden size rounded up to a power of two, 256 to 2048), median of 5 after one warm-up, in the same run.",
    ];
}
