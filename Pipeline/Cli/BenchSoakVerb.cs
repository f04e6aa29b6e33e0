using System.CommandLine;
using System.Globalization;
using Distill.Pipeline.Bench;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill bench soak</c>: the pipeline of a preset (default tiny) N times in a row, each run a child
/// process with a seed of its own (<see cref="Soak"/>), to catch failures that happen only now and then. Writes
/// <c>&lt;dir&gt;/bench/soak.csv</c> and <c>soak.md</c>, the runs in <c>bench/soak/run-NN/</c>; exit code 1 when a run
/// failed.</summary>
public static class BenchSoakVerb
{
    /// <summary>Label of the default directory: <c>runs/&lt;yyyyMMdd-HHmmss&gt;-bench-soak-&lt;preset&gt;</c>.</summary>
    public const string RunLabel = BenchVerb.RunLabel + "-soak";

    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions(
            "soak directory (default runs/<yyyyMMdd-HHmmss>-bench-soak-<preset>); its bench/soak runs and files are replaced",
            SoakOptions.DefaultPreset);
        var runs = new Option<int>("--runs", "-n")
        {
            Description = "pipeline runs, one after the other, each a process of its own",
            HelpName = "N",
            DefaultValueFactory = _ => SoakOptions.DefaultRuns,
        };
        var seed = new Option<int>("--seed")
        {
            Description = $"base seed: run i (from 1) runs with -D {Soak.SeedKey}=BASE+i",
            HelpName = "BASE",
            DefaultValueFactory = _ => SoakOptions.DefaultBaseSeed,
        };

        // SoakOptions.Validate checks the values (ExecuteAsync, before anything is created).
        var command = new Command("soak",
            "Run the pipeline (preset tiny unless --preset) N times in a row, each run a child process with its own seed and run directory, " +
            "and report every failure with its stage and error; writes bench/soak.csv and bench/soak.md; exit code 1 when a run failed");
        options.AddTo(command);
        command.Add(runs);
        command.Add(seed);
        command.SetAction((parse, ct) => ExecuteAsync(new SoakOptions
        {
            Sources = options.SourcesOf(parse),
            Runs = parse.GetValue(runs),
            BaseSeed = parse.GetValue(seed),
        }, env, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(SoakOptions options, CliEnvironment env, CancellationToken ct)
    {
        var (prepared, exitCode) = await BenchOutput.PrepareAsync(options.Validate(), "bench soak", options.Sources, env, RunLabel);
        if (prepared is not { } run) return exitCode;
        var (config, paths) = run;

        return await BenchOutput.RunAsync(env, paths, ct, async () =>
        {
            var command = env.DistillCommand;
            var last = options.SeedOf(options.Runs);
            await env.Out.WriteLineAsync($"distill: bench soak {paths.Root}");
            await env.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  preset {config.Preset}; stages {string.Join(" -> ", config.Settings.Stages)}; {options.Runs} run(s), seeds {options.SeedOf(1)}..{last}"));
            await env.Out.WriteLineAsync("  each run: " + command.Describe(Soak.RunArguments(options.Sources, config.Preset, "<dir>", "<seed>")));
            var result = await Soak.RunAsync(options, config, paths.Root, command, env.WorkingDirectory, env.Time,
                r => env.Out.WriteLine(SoakReport.Line(r, options.Runs)), ct);
            var (csv, md) = SoakReport.Write(Soak.OutputDir(paths.Root), result);
            return (csv, md, [SoakReport.Summary(result)], result.Failed == 0 ? ExitCodes.Ok : ExitCodes.RunFailed);
        });
    }
}
