using System.Diagnostics;
using System.Globalization;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Progress;
using Distill.Pipeline.Runs;
using Distill.Stages.Cache;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Distill.Stages.Training;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Bench;

/// <summary>One student stage of one run of the benchmark.</summary>
/// <param name="Mode">live (teachers running, cache written), replay (every batch from that cache through the actors)
/// or limit (the cached batches fed to the student step in a loop, no actors).</param>
/// <param name="WallSeconds">the stage's wall time (live, replay: the supervisor's; limit: creating the student,
/// consuming every batch and completing it).</param>
/// <param name="Figures">the stage's figures (with the trainer's <c>trainer_*</c> ones); for the limit
/// <c>limit_create_seconds</c>, <c>limit_consume_seconds</c>, <c>limit_complete_seconds</c>.</param>
public sealed record StageRun(string Stage, string Mode, int Round, double WallSeconds, IReadOnlyDictionary<string, double> Figures)
{
    public double Figure(string name) => Figures.TryGetValue(name, out var v) ? v : double.NaN;
}

/// <summary>A live run: its stages, what its timed teacher and student steps measured, and its cache.</summary>
public sealed record LiveRun(string Root, string CacheRoot, IReadOnlyList<StageRun> Stages, IReadOnlyDictionary<string, FlowStageTimes> Flow);

/// <summary>Runs the student stages of the benchmark (issue 5, items 7b and 7c) as real pipeline runs in
/// sub-directories of <c>workDir</c>, all on one dataset (<c>workDir/data</c>) and one teacher (trained, or checked
/// when external, by the first live run and copied into every later run): <see cref="LiveAsync"/> (the teacher stage,
/// then mimic and mod with live teachers, cache mode write, every teacher and student call timed by a
/// <see cref="FlowClock"/>), <see cref="ReplayAsync"/> (the same stages, cache mode replay on that cache) and
/// <see cref="Limit"/> (each stage's student step fed the cached batches in shard order, without actors).</summary>
public sealed class StudentStageBench
{
    /// <summary>The stages every run has; the student stages measured are the distillation stages among them.</summary>
    public static readonly IReadOnlyList<string> Stages = ["teacher", "mimic", "mod"];

    private readonly ConfigSources _sources;
    private readonly string _workDir;
    private readonly DateTimeOffset _now;
    private readonly Action<string>? _log;
    private readonly CancellationToken _ct;
    private string? _teacherRun;

    public StudentStageBench(ConfigSources sources, string workDir, DateTimeOffset now, Action<string>? log, CancellationToken ct)
    {
        _sources = sources;
        _workDir = Path.GetFullPath(workDir);
        _now = now;
        _log = log;
        _ct = ct;
    }

    /// <summary>The dataset every run shares.</summary>
    public string DataDir => Path.Combine(_workDir, "data");

    /// <summary>Overrides every run gets (after the user's): the stages, the shared dataset.</summary>
    private IReadOnlyList<string> Common =>
    [
        $"distill.stages=[{string.Join(", ", Stages)}]",
        $"distill.data.dir={DataDir}",
    ];

    /// <summary>The settings of a run in <c>workDir/name</c>, without creating it.</summary>
    private DistillSettings Settings(string name) =>
        ConfigLoader.Load(_sources with { Overrides = [.. _sources.Overrides, .. Common], RunDir = Path.Combine(_workDir, name) }).Settings;

    /// <summary>The configuration of a run in <c>workDir/name</c>, its directory created.</summary>
    public (LoadedConfiguration Config, RunPaths Paths) Create(string name, params string[] overrides)
    {
        var dir = Path.Combine(_workDir, name);
        var config = ConfigLoader.Load(_sources with { Overrides = [.. _sources.Overrides, .. Common, .. overrides], RunDir = dir });
        return RunDirectory.Create(config, _now, _workDir);
    }

    public async Task<LiveRun> LiveAsync(int round)
    {
        var name = $"live-{round}";
        var cache = Path.Combine(_workDir, name, "cache");
        var clock = new FlowClock();
        var paths = await RunAsync(name, clock.Instrument, "distill.cache.mode=write", $"distill.cache.dir={cache}");
        _teacherRun ??= paths.Root;
        return new LiveRun(paths.Root, cache, StagesOf(paths, "live", round), clock.Snapshot());
    }

    public async Task<IReadOnlyList<StageRun>> ReplayAsync(int round, LiveRun live)
    {
        var paths = await RunAsync($"replay-{round}", stages => stages, "distill.cache.mode=replay", $"distill.cache.dir={live.CacheRoot}");
        return StagesOf(paths, "replay", round);
    }

    /// <summary>The trainer alone: each distillation stage's student step (made as the pipeline makes it) consumes the
    /// live run's cached batches, read into memory first, in shard order, then completes.</summary>
    public IReadOnlyList<StageRun> Limit(int round, LiveRun live)
    {
        var (config, paths) = Create($"limit-{round}", "distill.cache.mode=off");
        var s = config.Settings;
        CopyTeacher(s, paths);
        var prepared = Prepare(s, paths);
        using var metrics = new MetricsLog(paths.Metrics);
        var progress = new ConsoleProgress(metrics, TextWriter.Null, colour: false);
        var catalog = new StageCatalog(s, paths, prepared.Data, prepared.Fingerprint) { Progress = progress, Cancellation = _ct };
        var caches = CacheInventory.List(live.CacheRoot);
        var runs = new List<StageRun>();
        foreach (var stage in catalog.Build().OfType<DistillStage>())
        {
            var batches = CachedBatches(caches, stage.Name, live.CacheRoot);
            var start = Stopwatch.GetTimestamp();
            var student = stage.CreateStudent();
            TimeSpan create, consume, complete;
            try
            {
                create = Stopwatch.GetElapsedTime(start);
                foreach (var (shard, bytes) in batches)
                {
                    _ct.ThrowIfCancellationRequested();
                    student.Consume(shard, bytes);
                }
                consume = Stopwatch.GetElapsedTime(start) - create;
                student.Complete(progress, _ct);
                complete = Stopwatch.GetElapsedTime(start) - create - consume;
            }
            finally
            {
                student.Dispose();
            }
            runs.Add(new StageRun(stage.Name, "limit", round, (create + consume + complete).TotalSeconds, new Dictionary<string, double>
            {
                ["limit_create_seconds"] = create.TotalSeconds,
                ["limit_consume_seconds"] = consume.TotalSeconds,
                ["limit_complete_seconds"] = complete.TotalSeconds,
                ["shards"] = batches.Count,
            }));
            Log($"limit-{round}", runs[^1]);
        }
        return runs;
    }

    /// <summary>The teacher's rate against the student's in <see cref="OverlapAsync"/>: the stand-in delivers batches
    /// this many times as fast as the student step consumed them in the limit.</summary>
    public const double OverlapTeacherSpeedup = 2;

    /// <summary>Each distillation stage through the actors with a teacher on another machine that is faster than the
    /// student: stand-in teachers (<see cref="CachedLatencyTeacher"/>) that take no CPU here and return the live run's
    /// cached batches after a latency of <c>workers * (limit consume time per shard) / </c><see cref="OverlapTeacherSpeedup"/>,
    /// so that the batches arrive twice as fast as the student consumed them when fed from memory. Figures added to
    /// each stage's: <c>overlap_teacher_seconds</c> (the stand-ins' first call to last answer),
    /// <c>overlap_student_seconds</c> (the same round's limit: the student alone), <c>overlap_latency_ms</c>.</summary>
    public async Task<IReadOnlyList<StageRun>> OverlapAsync(int round, LiveRun live, IReadOnlyList<StageRun> limit)
    {
        var name = $"overlap-{round}";
        var caches = CacheInventory.List(live.CacheRoot);
        int workers = Settings(name).Parallelism.TeacherWorkers;
        var teachers = new Dictionary<string, (CachedLatencyTeacher Teacher, TimeSpan Latency, double StudentSeconds)>();
        var paths = await RunAsync(name, stages => stages.Select(stage =>
        {
            if (stage is not DistillStage distill) return stage;
            var alone = limit.Single(r => r.Stage == distill.Name && r.Round == round);
            var source = distill.CreateSource();
            var cached = CachedBatches(caches, distill.Name, live.CacheRoot).ToDictionary(b => b.Shard, b => b.Bytes);
            var batches = Enumerable.Range(0, source.ShardCount).ToDictionary(
                shard => CachedLatencyTeacher.KeyOf(source.LoadShard(shard)),
                shard => cached.TryGetValue(shard, out var bytes) ? bytes
                    : throw new InvalidDataException($"{live.CacheRoot}: no cached batch of {distill.Name} shard {shard}"));
            var latency = TimeSpan.FromSeconds(workers * alone.Figure("limit_consume_seconds") / source.ShardCount / OverlapTeacherSpeedup);
            var teacher = new CachedLatencyTeacher(latency, batches);
            teachers[distill.Name] = (teacher, latency, alone.WallSeconds);
            return distill with { CreateTeacher = () => teacher };
        }).ToList(), "distill.cache.mode=off");
        return StagesOf(paths, "overlap", round).Select(run =>
        {
            var (teacher, latency, student) = teachers[run.Stage];
            var figures = new Dictionary<string, double>(run.Figures)
            {
                ["overlap_teacher_seconds"] = teacher.Span.TotalSeconds,
                ["overlap_student_seconds"] = student,
                ["overlap_latency_ms"] = latency.TotalMilliseconds,
            };
            return run with { Figures = figures };
        }).ToList();
    }

    /// <summary>Sets the torch threads and prepares the data and tokenizer of a run as <see cref="PipelineHost"/> does
    /// (the dataset is written once, by the first run, and reused by the others).</summary>
    public static DataPreparation.Result Prepare(DistillSettings s, RunPaths paths)
    {
        TorchSharp.torch.set_num_threads(s.TorchThreads > 0 ? s.TorchThreads : Environment.ProcessorCount);
        return RunData.Prepare(s, paths, Path.Combine(paths.Root, TeacherPretraining.TokenizerFile), NullStageProgress.Instance);
    }

    /// <summary>Every cached batch of <paramref name="stage"/> in shard order, read into memory: from the stage's own
    /// cache, or, for a stage that replays another stage's batches (mod shares mimic's when the configuration makes it
    /// so), from the one other complete cache of the live run.</summary>
    private static IReadOnlyList<(int Shard, byte[] Bytes)> CachedBatches(IReadOnlyList<CacheEntry> caches, string stage, string root)
    {
        var complete = caches.Where(e => e.Manifest is { Complete: true }).ToList();
        var own = complete.Where(e => e.Manifest!.Stage == stage).ToList();
        var chosen = own.Count > 0 ? own : complete;
        if (chosen.Count != 1)
            throw new InvalidDataException($"the live run's cache {root} holds {own.Count} complete cache(s) of stage '{stage}' and " +
                                           $"{complete.Count} in all: expected the stage's own, or a single one it shares");
        var entry = chosen[0];
        return entry.Manifest!.Parts.OrderBy(p => p.Shard)
            .Select(p => (p.Shard, File.ReadAllBytes(Path.Combine(entry.Directory, p.File))))
            .ToList();
    }

    private async Task<RunPaths> RunAsync(string name, Func<IReadOnlyList<StageDefinition>, IReadOnlyList<StageDefinition>> instrument,
        params string[] overrides)
    {
        var (config, paths) = Create(name, overrides);
        CopyTeacher(config.Settings, paths);
        RunOutcome outcome;
        using (var metrics = new MetricsLog(paths.Metrics))
        {
            var progress = new ConsoleProgress(metrics, TextWriter.Null, colour: false);
            outcome = await PipelineHost.RunAsync(config.Settings, paths, progress, _ct, ActorHosting.SingleProcess, instrument);
        }
        if (outcome.Succeeded) return paths;
        var why = outcome.Failure is { } failure ? $" in stage {failure.Stage}: {failure.Error}" : $" (exit code {outcome.ExitCode})";
        if (outcome.Failure is not null) new Cli.FailureReport(paths, TextWriter.Null).StageFailed("bench", outcome.Failure); // the run's own logs/error.log
        throw new InvalidOperationException($"the benchmark's {name} run failed{why}; see {Path.Combine(paths.Logs, Cli.FailureReport.FileName)}");
    }

    /// <summary>Every run after the first gets the first run's teacher.</summary>
    private void CopyTeacher(DistillSettings settings, RunPaths paths)
    {
        if (_teacherRun is not null) TeacherCopy.Into(settings, _teacherRun, paths);
    }

    private IReadOnlyList<StageRun> StagesOf(RunPaths paths, string mode, int round)
    {
        var completed = new RunLedger(paths.Ledger).ReadAll().Where(e => e.Status == RunLedgerStatus.Completed).ToList();
        var runs = new List<StageRun>();
        foreach (var stage in Stages.Where(s => s != "teacher"))
        {
            var entry = completed.LastOrDefault(e => e.Stage == stage)
                        ?? throw new InvalidDataException($"{paths.Ledger}: stage {stage} did not complete");
            runs.Add(new StageRun(stage, mode, round, entry.WallSeconds ?? double.NaN,
                entry.Figures ?? new Dictionary<string, double>()));
            Log($"{mode}-{round}", runs[^1]);
        }
        return runs;
    }

    private void Log(string run, StageRun stage)
    {
        var busy = stage.Figures.TryGetValue("trainer_busy_fraction", out var b)
            ? string.Create(CultureInfo.InvariantCulture, $" (trainer busy {b:0.00} while streaming)")
            : "";
        _log?.Invoke(string.Create(CultureInfo.InvariantCulture, $"  {run}: {stage.Stage} {stage.WallSeconds:0.0} s{busy}"));
    }
}
