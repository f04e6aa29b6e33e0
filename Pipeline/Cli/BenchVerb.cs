using System.CommandLine;
using System.Globalization;
using Distill.Pipeline.Bench;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Cli;

/// <summary>Options of <c>distill bench models</c>.</summary>
public sealed record BenchModelsOptions
{
    public ConfigSources Sources { get; init; } = new();

    /// <summary>Timed repeats of each measurement after one warm-up (the median is reported).</summary>
    public int Repeats { get; init; } = BenchVerb.DefaultRepeats;

    /// <summary>Forward batch; null = <c>distill.eval.batch-size</c>.</summary>
    public int? Batch { get; init; }

    /// <summary>Cached decode steps per repeat; null = <c>distill.eval.max-new-tokens</c>.</summary>
    public int? DecodeSteps { get; init; }
}

/// <summary><c>distill bench</c>: performance measurements written to a run directory (DESIGN 9). Sub-verbs:
/// <c>models</c> (<see cref="ModelBench"/>), <c>pipeline</c> (<see cref="BenchPipelineVerb"/>) and <c>soak</c>
/// (<see cref="BenchSoakVerb"/>).</summary>
public static class BenchVerb
{
    public const int DefaultRepeats = 5;

    /// <summary>Label of the default bench directory: <c>runs/&lt;yyyyMMdd-HHmmss&gt;-bench-&lt;preset&gt;</c>.</summary>
    public const string RunLabel = "bench";

    public static Command Create(CliEnvironment env)
    {
        var bench = new Command("bench", "Measure performance, or soak the pipeline; results go to a run directory (see 'bench models', 'bench pipeline', 'bench soak')");
        bench.Add(CreateModels(env));
        bench.Add(BenchPipelineVerb.Create(env));
        bench.Add(BenchSoakVerb.Create(env));
        return bench;
    }

    private static Command CreateModels(CliEnvironment env)
    {
        var options = new ConfigOptions("output directory (default runs/<yyyyMMdd-HHmmss>-bench-<preset>): a new or empty folder, " +
                                        "or a Distill run directory, whose bench files are replaced");
        var repeats = new Option<int>("--repeats", "-n")
        {
            Description = "timed rounds over all models after one warm-up round; the median per model is reported",
            HelpName = "N",
            DefaultValueFactory = _ => DefaultRepeats,
        };
        var batch = new Option<int?>("--batch")
        {
            Description = "batch of the forward throughput measurement (default distill.eval.batch-size)",
            HelpName = "N",
        };
        var decodeSteps = new Option<int?>("--decode-steps")
        {
            Description = "cached decode steps per repeat (default distill.eval.max-new-tokens)",
            HelpName = "N",
        };
        AtLeastOne(repeats);
        AtLeastOne(batch);
        AtLeastOne(decodeSteps);

        var command = new Command("models",
            "Speed of teacher, dense, MoE and MoD students (random weights, fixed seed): forward tokens/s, prefill and " +
            "decode latency, parameters, FLOPs; writes bench-models.csv and bench-models.md");
        options.AddTo(command);
        command.Add(repeats);
        command.Add(batch);
        command.Add(decodeSteps);
        command.SetAction((parse, ct) => ExecuteModelsAsync(new BenchModelsOptions
        {
            Sources = options.SourcesOf(parse),
            Repeats = parse.GetValue(repeats),
            Batch = parse.GetValue(batch),
            DecodeSteps = parse.GetValue(decodeSteps),
        }, env, ct));
        return command;
    }

    private static void AtLeastOne<T>(Option<T> option) =>
        option.Validators.Add(result =>
        {
            var value = result.GetValueOrDefault<T>();
            if (value is int n && n < 1) result.AddError($"{option.Name} must be at least 1, got {n}.");
        });

    public static async Task<int> ExecuteModelsAsync(BenchModelsOptions options, CliEnvironment env, CancellationToken ct)
    {
        var (prepared, exitCode) = await BenchOutput.PrepareAsync(options.Sources, env);
        if (prepared is not { } run) return exitCode;
        var (config, paths) = run;

        var s = config.Settings;
        TorchSharp.torch.set_num_threads(s.TorchThreads > 0 ? s.TorchThreads : Environment.ProcessorCount);
        return await BenchOutput.RunAsync(env, paths, ct, async () =>
        {
            var workload = ShapesWorkload.Of(s, options.Batch, options.DecodeSteps);
            await env.Out.WriteLineAsync($"distill: bench models {paths.Root}");
            await env.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  preset {config.Preset}; {workload.ImageTokens} image + {workload.TextTokens} text tokens per sample; forward batch {workload.Batch}; " +
                $"{workload.DecodeSteps} decode steps; {options.Repeats} repeat(s); torch threads {TorchSharp.torch.get_num_threads()}; random weights (seed {s.Seed})"));
            var result = await Task.Run(() => ModelBench.Run(s, workload, options.Repeats, line => env.Out.WriteLine(line), ct), ct);
            var (csv, md) = ModelBenchReport.Write(paths.Root, result);
            return (csv, md, [ModelBenchReport.Table(result), ModelBenchReport.Comparisons(result)]);
        });
    }
}
