using System.CommandLine;
using System.Globalization;
using Distill.Pipeline.Reporting;
using Distill.Pipeline.Study;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill study --seeds N</c>: the pipeline of a preset (default demo) once per seed, each run a child
/// process in <c>&lt;study&gt;/seed-S/</c> (<see cref="SeedStudy"/>), then the mean and spread of every figure, the
/// targets on the mean and a plot (<see cref="StudyReport"/>); exit code 1 when a run failed. Given the directory of an
/// earlier study (<c>--run DIR</c>), finished seeds are read back and unfinished ones resume.</summary>
public static class StudyVerb
{
    /// <summary>Label of the default directory: <c>runs/&lt;yyyyMMdd-HHmmss&gt;-study-&lt;preset&gt;</c>.</summary>
    public const string RunLabel = "study";

    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions(
            "study directory (default runs/<yyyyMMdd-HHmmss>-study-<preset>); an earlier study's: its finished seeds are read back, the others resume",
            StudyOptions.DefaultPreset);
        var seeds = new Option<int>("--seeds", "-n")
        {
            Description = "pipeline runs, one per seed, one after the other, each a process of its own",
            HelpName = "N",
            DefaultValueFactory = _ => StudyOptions.DefaultSeeds,
        };
        var seed = new Option<int?>("--seed")
        {
            Description = "first seed (default: the configuration's distill.seed); run i (from 0) runs with distill.seed = BASE + i",
            HelpName = "BASE",
        };
        var command = new Command("study",
            "Run the pipeline (preset demo unless --preset) once per seed, then write the mean and standard deviation of every figure per model, " +
            "whether each target holds on the mean, and a plot: study.md, study.csv and study.png in the study directory; exit code 1 when a run failed");
        options.AddTo(command);
        command.Add(seeds);
        command.Add(seed);
        command.SetAction((parse, ct) => ExecuteAsync(new StudyOptions
        {
            Sources = options.SourcesOf(parse),
            Seeds = parse.GetValue(seeds),
            BaseSeed = parse.GetValue(seed),
        }, env, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(StudyOptions options, CliEnvironment env, CancellationToken ct)
    {
        var (prepared, exitCode) = await BenchOutput.PrepareAsync(options.Validate(), "study", options.Sources, env, RunLabel);
        if (prepared is not { } run) return exitCode;
        var (config, paths) = run;

        return await BenchOutput.RunAsync(env, paths, ct, async () =>
        {
            var command = env.DistillCommand;
            var first = options.BaseSeed ?? config.Settings.Seed;
            await env.Out.WriteLineAsync($"distill: study {paths.Root}");
            await env.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  preset {config.Preset}; stages {string.Join(" -> ", config.Settings.Stages)}; {options.Seeds} seeds, {first}..{options.SeedOf(first, options.Seeds - 1)}"));
            var result = await SeedStudy.RunAsync(options, config, paths.Root, command, env.WorkingDirectory, env.Time,
                r => env.Out.WriteLine($"  seed {r.Seed}: running, log {Path.Combine(r.Directory, "stdout.log")}"),
                r => env.Out.WriteLine(Line(r)), ct);
            var (csv, md) = StudyReport.Write(paths.Root, result);
            var summary = $"study: {result.Runs.Count} runs, {result.Passed.Count} finished, {result.Failed} failed";
            return (csv, md, [summary], result.Failed == 0 ? ExitCodes.Ok : ExitCodes.RunFailed);
        });
    }

    private static string Line(StudyRun r)
    {
        var wall = double.IsFinite(r.Seconds) ? ReportWriter.Duration(TimeSpan.FromSeconds(r.Seconds)) : "?";
        if (!r.Passed) return $"  seed {r.Seed}: FAILED after {wall} (exit {r.ExitCode}): {r.Error}";
        var overall = StudyReport.Models(r.Figures!.Keys)
            .Select(m => $"{m} {(r.Figures![RunFigures.Overall(m)] * 100).ToString("0.0", CultureInfo.InvariantCulture)}%");
        return $"  seed {r.Seed}: {(r.Reused ? "read back" : "finished")} in {wall}; accuracy {string.Join(", ", overall)}";
    }
}
