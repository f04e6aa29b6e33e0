using System.Globalization;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Sources;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Bench;

/// <summary>Options of <c>distill bench pipeline</c>.</summary>
public sealed record PipelineBenchOptions
{
    /// <summary>The preset when none is given: the demo models on a small slice of the data (hocon/presets/bench.conf).</summary>
    public const string DefaultPreset = "bench";

    public static readonly TimeSpan DefaultLatency = TimeSpan.FromMilliseconds(50);
    public static readonly IReadOnlyList<int> DefaultWorkers = [1, 2, 4, 8];
    public const int DefaultRepeats = 3;

    /// <summary>Most teacher workers one scaling run may have.</summary>
    public const int MaxWorkers = 64;

    public ConfigSources Sources { get; init; } = new() { Preset = DefaultPreset };

    /// <summary>Latency of the teacher stand-in of the scaling benchmark, per batch.</summary>
    public TimeSpan Latency { get; init; } = DefaultLatency;

    /// <summary>Teacher worker counts of the scaling benchmark.</summary>
    public IReadOnlyList<int> Workers { get; init; } = DefaultWorkers;

    /// <summary>Runs of each scaling setting, and rounds of live / replay / limit runs of the student stages.</summary>
    public int Repeats { get; init; } = DefaultRepeats;

    /// <summary>The parts measured, a subset of <see cref="PipelineBench.Parts"/> (all by default).</summary>
    public IReadOnlyList<string> Sections { get; init; } = PipelineBench.Parts;

    /// <summary>The cache codec measurement (<see cref="PipelineBench.Codec"/>); its seed is the configuration's.</summary>
    public CacheCodecBenchOptions Codec { get; init; } = new();

    /// <summary>How many times the preset's training scenes the larger memory run (g) has.</summary>
    public int MemoryScale { get; init; } = MemoryBench.Scale;

    /// <summary>The binary the memory runs (g) start as child processes.</summary>
    public DistillCommand Command { get; init; } = DistillCommand.ThisBinary();

    public bool Measures(string part) => Sections.Contains(part);
}

/// <summary><c>distill bench pipeline</c> (issue 5, item 7; DESIGN 9): (a) how the teacher side scales with teacher
/// workers against the ideal (<see cref="ScalingBench"/>), (b) how busy the trainer is with live teachers and what Arrow
/// encode/decode and messaging cost per shard, (c) the student stages live, replayed from the cache and fed from memory
/// without actors (<see cref="StudentStageBench"/>), (d) the cache's bytes per distilled token against dense float32
/// logits (<see cref="CacheBytes"/>), (e) the student stages with a teacher faster than they are, (f) the compact top-K
/// cache at a real vocabulary: bytes per token and the sparse-KL gradient's cosine to the dense one
/// (<see cref="CacheCodecBench"/>), (g) the mimic stage's peak memory at the preset's data and at ten times as much
/// (<see cref="MemoryBench"/>). Works in <c>&lt;run&gt;/bench/pipeline/</c> (replaced on every run).</summary>
public static class PipelineBench
{
    /// <summary>The parts <c>--sections</c> chooses from: (a) <see cref="Scaling"/>; (b) to (e) <see cref="Stages"/>,
    /// which share the live runs; (f) <see cref="Codec"/>, whose rows go to the CSV's cache section.</summary>
    public const string Scaling = "scaling", Stages = "stages", Codec = "codec", Memory = "memory";

    /// <summary>Every part, in the order they run; (g) <see cref="Memory"/> runs child processes.</summary>
    public static readonly IReadOnlyList<string> Parts = [Scaling, Stages, Codec, Memory];

    /// <summary>Subject of the rows that add up every student stage.</summary>
    public const string Total = "all";

    /// <summary>Where the bench writes its files in the run directory, and its runs below that.</summary>
    public static string OutputDir(string runRoot) => Path.Combine(runRoot, "bench");

    public static string WorkDir(string runRoot) => Path.Combine(OutputDir(runRoot), "pipeline");

    public static async Task<PipelineBenchResult> RunAsync(PipelineBenchOptions options, string preset, RunPaths root, DateTimeOffset now,
        Action<string>? log = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var work = WorkDir(root.Root);
        if (Directory.Exists(work)) Directory.Delete(work, recursive: true); // inside the bench's run directory (claimed at start-up)
        var sources = options.Sources with { Preset = preset };
        var bench = new StudentStageBench(sources, work, now, log, ct);
        IReadOnlyList<ScalingRow> scaling = [];
        var live = new List<LiveRun>();
        var replay = new List<StageRun>();
        var limit = new List<StageRun>();
        var overlap = new List<StageRun>();
        IReadOnlyList<CacheBytesRow> cache = [];
        DistillSettings s;
        string sizes = "";
        MachineInfo machine;
        if (options.Measures(Scaling) || options.Measures(Stages))
        {
            // (a) on the dataset every run shares (written here, once).
            var (config, paths) = bench.Create("scaling", "distill.cache.mode=off");
            s = config.Settings;
            var prepared = StudentStageBench.Prepare(s, paths);
            machine = MachineInfo.Now(TorchSharp.torch.get_num_threads());
            if (options.Measures(Scaling))
            {
                log?.Invoke($"  (a) scaling: teacher stand-in of {options.Latency.TotalMilliseconds:0.#} ms per batch, workers {string.Join(", ", options.Workers)}");
                scaling = await ScalingBench.RunAsync(s, prepared.Data, options.Latency, options.Workers, options.Repeats, paths.Root, log, ct);
            }
            if (options.Measures(Stages))
            {
                // (b), (c): round-robin, so that load from other processes spreads over the three modes.
                log?.Invoke($"  (b, c) student stages {string.Join(", ", StudentStages)}: live, replay, limit; {options.Repeats} round(s)");
                for (int round = 1; round <= options.Repeats; round++)
                {
                    live.Add(await bench.LiveAsync(round));
                    replay.AddRange(await bench.ReplayAsync(round, live[^1]));
                    var alone = bench.Limit(round, live[^1]);
                    limit.AddRange(alone);
                    // (e) after the limit of the same round, whose student time sets the stand-in teachers' latency.
                    overlap.AddRange(await bench.OverlapAsync(round, live[^1], alone));
                }
                // (d) from the first live run's cache.
                cache = CacheBytes.Measure(live[0].CacheRoot, new SplitShardSource(prepared.Data, PreparedData.DistillSplit, "val", s.Parallelism.ShardSize));
            }
            sizes = Sizes(s, prepared, new SplitShardSource(prepared.Data, "train", "val", s.Parallelism.ShardSize));
        }
        else
        {
            s = ConfigLoader.Load(sources).Settings;
            TorchSharp.torch.set_num_threads(s.TorchThreads > 0 ? s.TorchThreads : Environment.ProcessorCount);
            machine = MachineInfo.Now(TorchSharp.torch.get_num_threads());
        }

        // (f) needs no dataset: a synthetic teacher at the vocabulary of options.Codec.
        CacheCodecResult? codec = null;
        if (options.Measures(Codec))
        {
            log?.Invoke("  (f) cache codec: compact top-K at a real vocabulary");
            codec = await Task.Run(() => CacheCodecBench.Run(options.Codec with { Seed = s.Seed }, log, ct), ct);
        }

        // (g) child processes against one teacher: the live runs' or, without them, one trained for it.
        IReadOnlyList<MemoryRow> memory = [];
        if (options.Measures(Memory))
        {
            var teacher = live.Count > 0 ? Path.Combine(live[0].Root, "checkpoints", "teacher")
                : await MemoryBench.TrainTeacherAsync(sources, preset, work, options.Command, log, ct);
            memory = await MemoryBench.RunAsync(sources, preset, s, teacher, work, options.Command, options.MemoryScale, log, ct);
        }

        machine = machine with { LoadAtEnd = MachineInfo.LoadAverage() };
        return new PipelineBenchResult(preset, machine, sizes, options.Latency.TotalMilliseconds, options.Repeats,
            scaling, live.Count == 0 ? [] : Utilisation(live), live.Count == 0 ? [] : Replay(live, replay, limit), cache,
            live.Count == 0 ? [] : Overlap(overlap), codec, Notes(s, options, scaling, codec)) { Memory = memory };
    }

    /// <summary>The student stages measured: the distillation stages of <see cref="StudentStageBench.Stages"/>.</summary>
    public static IReadOnlyList<string> StudentStages => StudentStageBench.Stages.Where(st => st != "teacher").ToList();

    internal static IReadOnlyList<UtilisationRow> Utilisation(IReadOnlyList<LiveRun> live) =>
        StudentStages.Select(stage =>
        {
            var runs = live.Select(l => l.Stages.Single(r => r.Stage == stage)).ToList();
            var flows = live.Select(l => l.Flow.TryGetValue(stage, out var f) ? f : null).OfType<FlowStageTimes>().ToList();
            double PerShard(Func<FlowStageTimes, TimeSpan> time, Func<FlowStageTimes, int> count) =>
                flows.Count == 0 ? double.NaN : ScalingBench.Median(flows.Select(f => count(f) == 0 ? double.NaN : time(f).TotalMilliseconds / count(f)));
            double Figure(string name) => ScalingBench.Median(runs.Select(r => r.Figure(name)));
            return new UtilisationRow(stage,
                BusyFraction: Figure("trainer_busy_fraction"),
                StreamSeconds: Figure("trainer_stream_seconds"),
                ConsumeSeconds: Figure("trainer_consume_seconds"),
                CompleteSeconds: Figure("trainer_complete_seconds"),
                TeacherStepMs: PerShard(f => f.TeacherStep, f => f.TeacherShards),
                TeacherEncodeMs: PerShard(f => f.TeacherEncode, f => f.TeacherShards),
                TeacherDecodeMs: PerShard(f => f.TeacherDecode, f => f.TeacherShards),
                StudentStepMs: PerShard(f => f.StudentStep, f => f.StudentShards),
                StudentDecodeMs: PerShard(f => f.StudentDecode, f => f.StudentShards),
                MessagingMs: PerShard(f => f.Messaging, f => f.DeliveredShards),
                Shards: flows.Count == 0 ? 0 : flows[0].StudentShards,
                DeliveredShards: flows.Count == 0 ? 0 : flows.Min(f => f.DeliveredShards));
        }).ToList();

    internal static IReadOnlyList<OverlapRow> Overlap(IReadOnlyList<StageRun> overlap) =>
        StudentStages.Select(stage =>
        {
            var runs = overlap.Where(r => r.Stage == stage).ToList();
            double Median(Func<StageRun, double> value) => ScalingBench.Median(runs.Select(value));
            return new OverlapRow(stage, Median(r => r.Figure("overlap_latency_ms")), Median(r => r.Figure("overlap_teacher_seconds")),
                Median(r => r.Figure("overlap_student_seconds")), Median(r => r.WallSeconds), Median(r => r.Figure("trainer_stream_seconds")),
                Median(r => r.Figure("trainer_busy_fraction")));
        }).ToList();

    internal static IReadOnlyList<ReplayRow> Replay(IReadOnlyList<LiveRun> live, IReadOnlyList<StageRun> replay, IReadOnlyList<StageRun> limit)
    {
        var liveRuns = live.SelectMany(l => l.Stages).ToList();
        var rows = StudentStages.Select(stage => Row(stage, r => r.Stage == stage)).ToList();
        rows.Add(Row(Total, _ => true));
        return rows;

        ReplayRow Row(string name, Func<StageRun, bool> take)
        {
            // Per round, the sum over the stages taken; then the median over the rounds.
            double Median(IEnumerable<StageRun> runs, Func<StageRun, double> value) =>
                ScalingBench.Median(runs.Where(take).GroupBy(r => r.Round).Select(g => g.Sum(value)));
            return new ReplayRow(name,
                LiveSeconds: Median(liveRuns, r => r.WallSeconds),
                ReplaySeconds: Median(replay, r => r.WallSeconds),
                LimitSeconds: Median(limit, r => r.WallSeconds),
                LiveStreamSeconds: Median(liveRuns, r => r.Figure("trainer_stream_seconds")),
                ReplayStreamSeconds: Median(replay, r => r.Figure("trainer_stream_seconds")),
                LimitConsumeSeconds: Median(limit, r => r.Figure("limit_consume_seconds")),
                ReplayBusyFraction: name == Total ? double.NaN : Median(replay, r => r.Figure("trainer_busy_fraction")));
        }
    }

    private static string Sizes(DistillSettings s, DataPreparation.Result prepared, SplitShardSource source) =>
        string.Create(CultureInfo.InvariantCulture,
            $"{source.TrainSamples} training + {source.HeldOutSamples} held-out samples in {source.TrainShards} + " +
            $"{source.ShardCount - source.TrainShards} shards of {s.Parallelism.ShardSize}; {prepared.Data.ImageTokens} image tokens; " +
            $"teacher {s.Model.Teacher.HiddenSize} wide x {s.Model.Teacher.Layers} layers, student {s.Model.Student.HiddenSize} x {s.Model.Student.Layers}; " +
            $"top-K {s.Teacher.TopK}, vocabulary {prepared.Data.Tokenizer.VocabSize}; {s.Parallelism.TeacherWorkers} teacher worker(s), " +
            $"credit window {s.Parallelism.CreditWindow}, strict order {(s.Cache.StrictOrder ? "on" : "off")}");

    private static IReadOnlyList<string> Notes(DistillSettings s, PipelineBenchOptions options, IReadOnlyList<ScalingRow> scaling,
        CacheCodecResult? codec)
    {
        var notes = new List<string>();
        if (scaling.Count > 0) notes.Add(ScalingNote(s, options, scaling));
        if (options.Measures(Stages)) notes.AddRange(StageNotes);
        if (codec is not null) notes.AddRange(CacheCodecReport.Notes(codec));
        if (options.Measures(Memory))
            notes.Add(string.Create(CultureInfo.InvariantCulture,
                $"(g) Each run is a child process (a fresh heap) that runs only mimic against one teacher, cache off, on the preset's training " +
                $"scenes and on {options.MemoryScale} times as many; peak RSS = the stage's rss_peak_bytes (VmHWM from the stage's start, after a " +
                $"full GC and malloc_trim). The last run decodes every kept batch at once (a window larger than the shard count), as mimic kept " +
                $"its batches in memory before they were read back from disk. The frozen vision tower's feature cache grows with the images " +
                $"(up to 1 GiB) and is part of every figure."));
        notes.Add("Timings are wall-clock on a machine that may be shared: the load average at start and end is in the machine line. Torch threads come " +
                  "from distill.torch-threads as in a run." +
                  (options.Sections.Count == Parts.Count ? "" : $" Measured: {string.Join(", ", options.Sections)} (--sections)."));
        return notes;
    }

    private static string ScalingNote(DistillSettings s, PipelineBenchOptions options, IReadOnlyList<ScalingRow> scaling) =>
        string.Create(CultureInfo.InvariantCulture,
            $"(a) The real actor flow (supervisor, stage coordinator, {s.Parallelism.Loaders} loaders, teacher workers, trainer, student host) runs " +
            $"{scaling[0].Shards} shards per setting. Each teacher is a stand-in that sleeps {options.Latency.TotalMilliseconds:0.#} ms per batch " +
            $"(no CPU, like a teacher on another machine) and returns the same real teacher/v2 batch of the configured size; the student only " +
            $"decodes it. Throughput = shards / (first teacher call -> last shard consumed); ideal = workers / latency, capped by the student's " +
            $"decode rate; the credit window is raised to twice the workers so that it never idles one. Median of the repeats.");

    private static readonly IReadOnlyList<string> StageNotes =
    [
        "(b) The first live run trains the teacher with the configuration's teacher settings (or checks the external one); every later run " +
        "copies it. Busy fraction = time inside the student's Consume / wall time from the student being ready until the last batch was " +
        "consumed (the trainer's trainer_busy_fraction figure). The mimic student (its first D2D epoch) and the mod student train their first " +
        "epoch while the batches stream in; here the live teachers share this machine's cores with the student. Arrow times are stopwatches around the encode/decode calls inside the steps. Messaging is the time " +
        "from a teacher call's end to the student call's start beyond the time the student was still busy (worker -> trainer -> student " +
        "host messages and their scheduling), its share taken of a shard's work (teacher step + student step); overhead share = (Arrow encode + decode on both sides + messaging) / (teacher step + student step).",
        "(c) Per round: a live run (teachers running, cache mode write), a replay of its cache through the actors (cache mode replay, no " +
        "teacher) and the limit: each stage's student step, made as the pipeline makes it, fed the cached batches from memory in shard " +
        "order without actors. Stage wall time = the supervisor's (live, replay) or create + consume + complete (limit); medians over the rounds. " +
        "The stream columns are the trainer's streaming phase (live, replay) and the limit's consume loop.",
        "(d) From the first live run's cache. Tokens = the positions whose logits are cached (distill.mimic.scope). Logit bytes = part " +
        "bytes minus the same rows written as samples/v1 (images, tokens, masks, which any cache needs); top-K payload = K int32 ids + K " +
        "float16 log-probs + one float32 tail; dense = vocab_size float32 logits. Part ratio = the part / the same part with dense logits.",
        string.Create(CultureInfo.InvariantCulture,
            $"(e) Per round, after the limit: each stage through the actors with stand-in teachers on another machine (no CPU here) that " +
            $"return the live run's cached batches after a latency of workers x (the limit's consume time per shard) / {StudentStageBench.OverlapTeacherSpeedup:0.#}, " +
            $"so the teacher side is faster than the student. Teacher = the stand-ins' first call to last answer; student = the same round's " +
            $"limit (the student step alone, fed from memory); wall / max = the stage's wall time over the longer of the two (1 = the student " +
            $"never waits for the teacher and the teacher adds nothing); cache mode off. Medians over the rounds."),
    ];
}
