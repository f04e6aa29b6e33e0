using System.Diagnostics;
using System.Text.Json;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Torch;
using static TorchSharp.torch;

namespace Distill.Pipeline.Bench;

/// <summary>transformers' side of <see cref="ParityBench"/>, null when the reference python is not installed.</summary>
public sealed record ReferenceTiming(double LoadSeconds, double ForwardSeconds, double MatmulGflops, int Threads, string Torch, string Transformers, double MaxAbsLogitDiff);

public sealed record ParityBenchResult(
    string Size,
    DecoderConfig Config,
    long Parameters,
    int Batch,
    int Tokens,
    int Repeats,
    int Threads,
    double DistillLoadSeconds,
    double DistillForwardSeconds,
    double DistillMatmulGflops,
    ReferenceTiming? Reference,
    string ReferenceStatus)
{
    public double DistillTokensPerSecond => Batch * Tokens / DistillForwardSeconds;

    public double DistillGflops => FlopAccounting.Forward(Config, Tokens).Total * (double)Batch / DistillForwardSeconds / 1e9;

    /// <summary>transformers' achieved GFLOP/s on the same forward (same FLOPs, its time).</summary>
    public double? ReferenceGflops => Reference is { } r ? DistillGflops * DistillForwardSeconds / r.ForwardSeconds : null;

    /// <summary>transformers' forward time / Distill's: above 1, Distill is faster.</summary>
    public double? Speedup => Reference is { } r ? r.ForwardSeconds / DistillForwardSeconds : null;
}

/// <summary>The same forward pass in Distill and in transformers: a random Llama of <see cref="BenchCheckpoints"/>' size
/// (default <c>100m</c>) written as a Hugging Face directory to a temporary folder, the same [1, 128] token ids, the same
/// torch thread count; each side loads the checkpoint itself, then times one warm-up and <c>repeats</c> forward passes
/// under no_grad (median). transformers runs in the hf-reference python (<see cref="ReferencePython"/>) with
/// <c>hf_forward_timing.py</c>; its logits are compared with Distill's as a check that both computed the same thing.</summary>
public static class ParityBench
{
    public const string ScriptResource = "Distill.Pipeline.Bench.hf_forward_timing.py";

    public static ParityBenchResult Run(string size, int repeats, int seed, string? hfPython, Action<string>? log = null, CancellationToken ct = default)
    {
        var config = BenchCheckpoints.Config(size) ?? throw new ArgumentException("--checkpoint none: nothing to compare", nameof(size));
        var parameters = ParameterAccounting.Count(config).Total;
        var threads = get_num_threads();
        var dir = BenchCheckpoints.TempDirectory();
        try
        {
            var modelDir = Path.Combine(dir, "model");
            CheckpointBench.Write(config, Placement.Cpu, modelDir, seed);
            log?.Invoke($"  wrote a random Llama of {parameters:N0} parameters to {modelDir}");

            var watch = Stopwatch.StartNew();
            using var model = Checkpoint.LoadCausalLm(modelDir);
            var load = watch.Elapsed.TotalSeconds;
            model.eval();
            var forward = CheckpointBench.ForwardSeconds(model, repeats, seed, ct);
            var matmul = MatmulProbe.Gflops(ScalarType.Float32);
            log?.Invoke($"  Distill: load {load:0.00} s, forward {forward * 1000:0.0} ms (median of {repeats}); matmul {matmul:0.0} GFLOP/s");

            var (python, tried) = ReferencePython.Find(hfPython);
            if (python is null)
            {
                var status = $"not run: no hf-reference python (looked for {string.Join(", ", tried)}; set it up with the hf-reference tool's setup.sh, or pass --hf-python)";
                log?.Invoke("  transformers: " + status);
                return new ParityBenchResult(size, config, parameters, CheckpointBench.Batch, CheckpointBench.Tokens, repeats, threads, load, forward, matmul, null, status);
            }

            var inputs = Path.Combine(dir, "inputs.safetensors");
            var expected = Path.Combine(dir, "distill-logits.safetensors");
            using (var noGrad = no_grad())
            using (var scope = NewDisposeScope())
            {
                var ids = randint(0, config.VocabSize, [CheckpointBench.Batch, CheckpointBench.Tokens], dtype: ScalarType.Int64,
                    generator: new Generator((ulong)seed));
                SafeTensors.Write(inputs, [("input_ids", ids)], new Dictionary<string, string> { ["format"] = "pt" });
                SafeTensors.Write(expected, [("logits", model.ForwardIds(ids))], new Dictionary<string, string> { ["format"] = "pt" });
            }
            ct.ThrowIfCancellationRequested();
            var reference = RunReference(python, modelDir, inputs, Path.Combine(dir, "hf-logits.safetensors"), expected, threads, repeats, ct);
            log?.Invoke($"  transformers {reference.Transformers} (torch {reference.Torch}): load {reference.LoadSeconds:0.00} s, forward {reference.ForwardSeconds * 1000:0.0} ms; matmul {reference.MatmulGflops:0.0} GFLOP/s; max |logit difference| {reference.MaxAbsLogitDiff:0.###e+0}");
            return new ParityBenchResult(size, config, parameters, CheckpointBench.Batch, CheckpointBench.Tokens, repeats, threads, load, forward, matmul, reference,
                $"run with {python}");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    private static ReferenceTiming RunReference(string python, string modelDir, string inputs, string output, string expected, int threads,
        int repeats, CancellationToken ct)
    {
        var script = Path.Combine(Path.GetDirectoryName(inputs)!, "hf_forward_timing.py");
        using (var resource = typeof(ParityBench).Assembly.GetManifestResourceStream(ScriptResource)
                              ?? throw new InvalidOperationException($"the build lacks the embedded {ScriptResource}"))
        using (var file = File.Create(script))
            resource.CopyTo(file);

        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { script, modelDir, inputs, output, threads.ToString(System.Globalization.CultureInfo.InvariantCulture), repeats.ToString(System.Globalization.CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {python}");
        using var kill = ct.Register(() => { try { process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { } });
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        process.WaitForExit();
        ct.ThrowIfCancellationRequested();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{python} {script} failed (exit {process.ExitCode}): {Tail(stderr.Result)}");
        var line = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()
                   ?? throw new InvalidDataException($"{script} printed nothing; stderr: {Tail(stderr.Result)}");
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        var times = root.GetProperty("forward_s").EnumerateArray().Select(e => e.GetDouble()).ToList();
        return new ReferenceTiming(root.GetProperty("load_s").GetDouble(), ModelBench.Median(times), root.GetProperty("matmul_gflops").GetDouble(),
            root.GetProperty("threads").GetInt32(),
            root.GetProperty("torch").GetString() ?? "?", root.GetProperty("transformers").GetString() ?? "?", MaxAbsDiff(expected, output));
    }

    private static double MaxAbsDiff(string a, string b)
    {
        using var scope = NewDisposeScope();
        var x = SafeTensors.Read(a)["logits"];
        var y = SafeTensors.Read(b)["logits"];
        if (!x.shape.SequenceEqual(y.shape))
            throw new InvalidDataException($"transformers' logits are [{string.Join(", ", y.shape)}], Distill's [{string.Join(", ", x.shape)}]");
        return Scalars.ToDouble((x - y).abs().max());
    }

    private static string Tail(string text) => text.Length <= 2000 ? text.Trim() : "..." + text[^2000..].Trim();
}
