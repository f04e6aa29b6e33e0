using System.Globalization;
using Distill.Pipeline.Bench;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Reporting;

namespace Distill.Pipeline.Study;

/// <summary>One seed's pipeline run of a study, as it ended. <see cref="Figures"/> is its <c>run-figures.json</c>
/// (null when it failed before writing one); <see cref="Reused"/>: a finished run of an earlier invocation on the same
/// study directory, not run again.</summary>
public sealed record StudyRun(int Seed, string Directory, int ExitCode, double Seconds, bool Reused, IReadOnlyDictionary<string, double>? Figures, string Error)
{
    public bool Passed => ExitCode == 0 && Figures is not null;
}

/// <summary>Everything a study ran, with how.</summary>
public sealed record StudyResult(string Preset, IReadOnlyList<string> Stages, string Command, DateTimeOffset Started, IReadOnlyList<StudyRun> Runs)
{
    public IReadOnlyList<StudyRun> Passed => Runs.Where(r => r.Passed).ToList();
    public int Failed => Runs.Count - Passed.Count;
}

/// <summary><c>distill study</c> (issue 14, item 4): the pipeline of a preset once per seed, each run a child process
/// (<see cref="Soak.RunChildAsync"/>) in <c>&lt;study&gt;/seed-S/</c> with <c>distill.seed = S</c> (teacher included:
/// a seed's teacher is built once and kept in the teacher store), then the mean and spread of every figure over the
/// seeds (<see cref="StudyStatistics"/>) and the targets on the mean (<see cref="StudyReport"/>). A seed whose run
/// finished in an earlier invocation on the same directory is read back, not run again; an unfinished one resumes.</summary>
public static class SeedStudy
{
    public static string RunDir(string root, int seed) => Path.Combine(root, "seed-" + seed.ToString(CultureInfo.InvariantCulture));

    public static async Task<StudyResult> RunAsync(StudyOptions options, LoadedConfiguration config, string root, DistillCommand command,
        string? workingDirectory, TimeProvider time, Action<StudyRun> starting, Action<StudyRun> finished, CancellationToken ct)
    {
        var baseSeed = options.BaseSeed ?? config.Settings.Seed;
        var started = time.GetUtcNow();
        var runs = new List<StudyRun>();
        for (var i = 0; i < options.Seeds; i++)
        {
            ct.ThrowIfCancellationRequested();
            var seed = options.SeedOf(baseSeed, i);
            var dir = RunDir(root, seed);
            var figuresFile = Path.Combine(dir, RunFigures.File);
            StudyRun run;
            if (File.Exists(figuresFile) && File.Exists(Path.Combine(dir, "report.md")))
            {
                var figures = RunFigures.Read(figuresFile);
                run = new StudyRun(seed, dir, 0, figures.TryGetValue(RunFigures.WallSeconds, out var s) ? s : double.NaN, Reused: true, figures, "");
            }
            else
            {
                starting(new StudyRun(seed, dir, 0, 0, false, null, ""));
                var args = Soak.RunArguments(options.Sources, config.Preset, dir, seed.ToString(CultureInfo.InvariantCulture));
                var (exitCode, seconds) = await Soak.RunChildAsync(command, args, dir, workingDirectory, time, ct);
                IReadOnlyDictionary<string, double>? figures = exitCode == 0 && File.Exists(figuresFile) ? RunFigures.Read(figuresFile) : null;
                var error = exitCode != 0 ? SoakFailure.Describe(exitCode, dir) is var f ? $"{(f.Stage.Length > 0 ? "stage " + f.Stage + ": " : "")}{f.Message} (details: {f.Log})" : ""
                    : figures is null ? $"the run wrote no {RunFigures.File}" : "";
                run = new StudyRun(seed, dir, exitCode, seconds, Reused: false, figures, error);
            }
            runs.Add(run);
            finished(run);
        }
        var described = command.Describe(Soak.RunArguments(options.Sources, config.Preset, "<dir>", "<seed>"));
        return new StudyResult(config.Preset, config.Settings.Stages, described, started, runs);
    }
}
