using System.Globalization;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Bench;

/// <summary>One mimic run of the memory benchmark: <see cref="Scale"/> times the preset's training scenes, later
/// epochs reading <see cref="Window"/> shards at a time back from disk.</summary>
/// <param name="PeakBytes">the run's <see cref="StageMemory.PeakFigure"/> for mimic (the process's peak resident
/// memory during the stage).</param>
/// <param name="KeptBytes">the training batches the stage kept on disk.</param>
public sealed record MemoryRow(string Subject, int Scale, int Window, int TrainSamples, double PeakBytes, double KeptBytes, double WallSeconds);

/// <summary>Section (g) of <c>bench pipeline</c> (issue 15, item 1): the peak resident memory of the mimic stage at the
/// preset's data and at <see cref="Scale"/> times as many training scenes, each a child process (a fresh heap) that
/// runs only mimic against the bench's teacher, cache off; and the larger data once more with a window that holds
/// every shard (all batches decoded at once, as mimic kept them in memory before it read them back from disk).</summary>
public static class MemoryBench
{
    public const int Scale = 10;

    /// <summary>A window larger than any shard count: every kept batch decoded at once.</summary>
    public const int AllInMemory = 1_000_000;

    public static async Task<IReadOnlyList<MemoryRow>> RunAsync(ConfigSources sources, string preset, DistillSettings settings,
        string teacherDir, string workDir, DistillCommand command, int scale, Action<string>? log, CancellationToken ct)
    {
        var scenes = settings.Data.TrainScenes;
        var window = settings.Parallelism.ReplayWindow;
        var runs = new (string Subject, int Scale, int Window)[]
        {
            ("mimic-1x", 1, window),
            ($"mimic-{scale}x", scale, window),
            ($"mimic-{scale}x-all-in-memory", scale, AllInMemory),
        };
        var rows = new List<MemoryRow>();
        foreach (var (subject, factor, w) in runs)
        {
            var dir = Path.Combine(workDir, "memory-" + subject);
            var args = Arguments(sources, preset, dir);
            args.AddRange([.. Define("distill.stages", "[mimic]"), .. Define("distill.teacher.checkpoint", Quote(teacherDir)),
                .. Define("distill.data.train-scenes", (scenes * factor).ToString(CultureInfo.InvariantCulture)),
                .. Define("distill.parallelism.replay-window", w.ToString(CultureInfo.InvariantCulture)), .. Define("distill.cache.mode", "off")]);
            log?.Invoke($"  (g) memory: {subject}, {scenes * factor} training scenes, replay window {w}");
            var (exitCode, seconds) = await Soak.RunChildAsync(command, args, dir, null, TimeProvider.System, ct);
            if (exitCode != 0)
                throw new InvalidOperationException($"bench memory run {subject} exited with {exitCode}: {SoakFailure.Describe(exitCode, dir).Message} (see {dir})");
            var mimic = new RunLedger(RunPaths.For(dir).Ledger).ReadAll().Last(e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
            double Figure(string name) => mimic.Figures?.TryGetValue(name, out var v) == true ? v : double.NaN;
            rows.Add(new MemoryRow(subject, factor, w, (int)Figure("train_samples"), Figure(StageMemory.PeakFigure), Figure("kept_bytes"), seconds));
            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"      {rows[^1].TrainSamples} training samples: peak RSS {rows[^1].PeakBytes / (1 << 20):0} MiB, kept {rows[^1].KeptBytes / (1 << 20):0.0} MiB, {seconds:0} s"));
        }
        return rows;
    }

    /// <summary>Trains the preset's teacher in a child run of its own (<c>distill.stages = [teacher]</c>) and returns
    /// its checkpoint.</summary>
    public static async Task<string> TrainTeacherAsync(ConfigSources sources, string preset, string workDir, DistillCommand command,
        Action<string>? log, CancellationToken ct)
    {
        var dir = Path.Combine(workDir, "memory-teacher");
        log?.Invoke("  (g) memory: training the teacher the mimic runs distil");
        var (exitCode, _) = await Soak.RunChildAsync(command, [.. Arguments(sources, preset, dir), .. Define("distill.stages", "[teacher]")],
            dir, null, TimeProvider.System, ct);
        if (exitCode != 0)
            throw new InvalidOperationException($"bench memory: the teacher run exited with {exitCode}: {SoakFailure.Describe(exitCode, dir).Message} (see {dir})");
        return Path.Combine(dir, "checkpoints", "teacher");
    }

    private static List<string> Arguments(ConfigSources sources, string preset, string dir)
    {
        var args = new List<string> { "run", "--preset", preset, "--run", dir };
        if (!string.IsNullOrEmpty(sources.ConfigFile)) args.AddRange(["--config", Path.GetFullPath(sources.ConfigFile)]);
        foreach (var define in sources.Overrides) args.AddRange(["-D", define]);
        return args;
    }

    private static string[] Define(string key, string value) => ["-D", $"{key}={value}"];

    private static string Quote(string path) => "\"" + path.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
