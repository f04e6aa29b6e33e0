using Akka.Actor;
using Distill.Actors;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Stages.Arrow;
using Distill.Stages.Distillation;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Bench;

/// <summary>One worker count of the scaling benchmark. Throughputs in shards per second; the measured one is the
/// median over the repeats.</summary>
/// <param name="CreditWindow">the credit window the flow ran with (at least twice the workers, so it never caps them).</param>
/// <param name="TrainerCapShardsPerSecond">1 / the student's mean time per shard: the most the trainer can take.</param>
/// <param name="Runs">the throughput of every repeat.</param>
public sealed record ScalingRow(
    int Workers,
    int CreditWindow,
    int Shards,
    double LatencyMs,
    double ShardsPerSecond,
    double TrainerCapShardsPerSecond,
    double StageSeconds,
    IReadOnlyList<double> Runs)
{
    /// <summary>workers / latency, capped by the trainer.</summary>
    public double IdealShardsPerSecond => Ideal(Workers, LatencyMs, TrainerCapShardsPerSecond);

    /// <summary>Measured / ideal.</summary>
    public double Efficiency => ShardsPerSecond / IdealShardsPerSecond;

    /// <summary>min(workers * 1000 / latency, trainer cap).</summary>
    public static double Ideal(int workers, double latencyMs, double trainerCapShardsPerSecond) =>
        Math.Min(workers * 1000.0 / latencyMs, trainerCapShardsPerSecond);
}

/// <summary>Scaling of the teacher side (issue 5, item 7a): the real actor flow (supervisor, stage coordinator,
/// loaders, teacher workers, trainer, student host) runs one stage whose teachers are <see cref="FixedLatencyTeacher"/>s
/// and whose student is a <see cref="DecodingStudent"/>, at each worker count in turn (round-robin over the repeats).
/// Throughput = shards / time from the first teacher call to the last consumed shard; ideal = workers / latency,
/// capped by the trainer.</summary>
public static class ScalingBench
{
    /// <summary>Shards per run: 8 rounds of the largest worker count, at least 32.</summary>
    public static int ShardsFor(IReadOnlyList<int> workers) => Math.Max(32, 8 * workers.Max());

    public static async Task<IReadOnlyList<ScalingRow>> RunAsync(DistillSettings settings, PreparedData data, TimeSpan latency,
        IReadOnlyList<int> workers, int repeats, string workDir, Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(data);
        if (workers.Count == 0 || workers.Any(w => w < 1)) throw new ArgumentException("worker counts must be at least 1", nameof(workers));
        if (repeats < 1) throw new ArgumentOutOfRangeException(nameof(repeats), repeats, "at least 1");
        if (latency <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(latency), latency, "must be positive");

        var rows = data.Rows("train").Take(settings.Parallelism.ShardSize).ToList();
        if (rows.Count == 0) throw new InvalidDataException($"{data.DatasetDir}: the training split is empty: no batch to send");
        var samplesV1 = SamplesV1.Write(rows, data.ImageFormat.Bytes);
        var scope = settings.Mimic.Scope;
        var meta = new TeacherBatchMeta("bench-fixed-latency", settings.Teacher.TopK, data.Tokenizer.VocabSize, data.Tokenizer.Hash, scope.Name());
        var teacherBatch = SyntheticTeacherBatch.Create(rows, meta, scope, data.ImageFormat.Bytes, settings.Teacher.Encoding());
        var images = new RowImages(rows, data.ImageFormat.Bytes);
        int shards = ShardsFor(workers);
        Directory.CreateDirectory(workDir);
        var ledger = Path.Combine(workDir, "scaling-ledger.jsonl");

        var runs = workers.Distinct().ToDictionary(w => w, _ => new List<(double Throughput, double Stage, double ConsumeMs)>());
        using var system = ActorSystem.Create("distill-bench", ActorHosting.LoggingConfig.WithFallback(DistillActorsConfig.Config));
        try
        {
            for (int r = 0; r < repeats; r++)
            foreach (var w in runs.Keys)
            {
                ct.ThrowIfCancellationRequested();
                var clock = new ScalingClock();
                var stage = new DistillStage("scaling",
                    CreateSource: () => new FixedShardSource(samplesV1, shards),
                    CreateTeacher: () => new FixedLatencyTeacher(latency, teacherBatch, clock),
                    CreateStudent: () => new DecodingStudent(clock, images));
                var flow = new FlowSettings
                {
                    Loaders = settings.Parallelism.Loaders,
                    TeacherWorkers = w,
                    CreditWindow = WindowFor(settings.Parallelism.CreditWindow, w),
                    MaxBatchBytes = settings.Transport.MaxBatchBytes,
                };
                File.Delete(ledger); // a fresh ledger: the supervisor would skip a stage it records as completed
                var result = await Distill.Actors.PipelineRunner.RunAsync(system, [stage], flow, ledger, NullStageProgress.Instance, ct);
                if (!result.Succeeded) throw new InvalidOperationException($"scaling run with {w} worker(s) failed: {result.Error}");
                if (clock.ShardsConsumed != shards)
                    throw new InvalidOperationException($"scaling run with {w} worker(s) consumed {clock.ShardsConsumed} of {shards} shards");
                var throughput = shards / clock.Span.TotalSeconds;
                runs[w].Add((throughput, result.Stages[0].WallSeconds, clock.ConsumeTime.TotalMilliseconds / shards));
                log?.Invoke(FormattableString.Invariant($"  scaling: {w} worker(s), repeat {r + 1}/{repeats}: {throughput:0.0} shards/s ({shards} shards, {clock.InferCalls} teacher calls)"));
            }
        }
        finally
        {
            await system.Terminate();
            File.Delete(ledger);
        }

        var consumeMs = Median(runs.Values.SelectMany(v => v.Select(x => x.ConsumeMs)));
        var cap = consumeMs > 0 ? 1000.0 / consumeMs : double.PositiveInfinity;
        return runs.Select(kv => new ScalingRow(kv.Key, WindowFor(settings.Parallelism.CreditWindow, kv.Key), shards, latency.TotalMilliseconds,
                Median(kv.Value.Select(x => x.Throughput)), cap, Median(kv.Value.Select(x => x.Stage)), kv.Value.Select(x => x.Throughput).ToList()))
            .ToList();
    }

    /// <summary>The credit window of a run: the configured one, raised to twice the workers (each worker asks for two
    /// shards at once), so that the window never keeps a worker idle.</summary>
    public static int WindowFor(int configured, int workers) => Math.Max(configured, 2 * workers);

    /// <summary>Median of a non-empty sequence (mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) throw new ArgumentException("no values", nameof(values));
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
