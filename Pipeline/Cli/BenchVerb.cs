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

    /// <summary>Size of the Hugging Face checkpoint written, loaded and run (<see cref="BenchCheckpoints"/>), or none.</summary>
    public string Checkpoint { get; init; } = BenchVerb.DefaultCheckpoint;
}

/// <summary><c>distill bench</c>: performance measurements written to a run directory (DESIGN 9). Sub-verbs:
/// <c>models</c> (<see cref="ModelBench"/>), <c>pipeline</c> (<see cref="BenchPipelineVerb"/>) and <c>soak</c>
/// (<see cref="BenchSoakVerb"/>).</summary>
public static class BenchVerb
{
    public const int DefaultRepeats = 5;

    /// <summary>The checkpoint section of <c>bench models</c> measures TinyLlama-1.1B's size unless told otherwise.</summary>
    public const string DefaultCheckpoint = "1b";

    /// <summary>Label of the default bench directory: <c>runs/&lt;yyyyMMdd-HHmmss&gt;-bench-&lt;preset&gt;</c>.</summary>
    public const string RunLabel = "bench";

    public static Command Create(CliEnvironment env)
    {
        var bench = new Command("bench", "Measure performance, or soak the pipeline; results go to a run directory (see 'bench models', 'bench pipeline', 'bench soak', 'bench parity', 'bench data')");
        bench.Add(CreateModels(env));
        bench.Add(BenchPipelineVerb.Create(env));
        bench.Add(BenchSoakVerb.Create(env));
        bench.Add(BenchParityVerb.Create(env));
        bench.Add(BenchDataVerb.Create(env));
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
        var checkpoint = CheckpointOption($"random Hugging Face checkpoint written to a temp folder, loaded in float32 and bfloat16 (time, peak RSS) and run (tokens/s, GFLOP/s next to a matmul's): " +
                                          $"1b = TinyLlama-1.1B's configuration, 100m, tiny, or none to skip (default {DefaultCheckpoint})", DefaultCheckpoint);
        AtLeastOne(repeats);
        AtLeastOne(batch);
        AtLeastOne(decodeSteps);

        var command = new Command("models",
            "Speed of teacher, dense, MoE and MoD students (random weights, fixed seed): forward tokens/s, prefill and " +
            "decode latency, parameters, FLOPs; then loading and running a 1B Hugging Face checkpoint; writes " +
            "bench-models.csv/.md and bench-checkpoint.csv/.md");
        options.AddTo(command);
        command.Add(repeats);
        command.Add(batch);
        command.Add(decodeSteps);
        command.Add(checkpoint);
        command.SetAction((parse, ct) => ExecuteModelsAsync(new BenchModelsOptions
        {
            Sources = options.SourcesOf(parse),
            Repeats = parse.GetValue(repeats),
            Batch = parse.GetValue(batch),
            DecodeSteps = parse.GetValue(decodeSteps),
            Checkpoint = parse.GetValue(checkpoint)!,
        }, env, ct));
        return command;
    }

    /// <summary>The <c>--checkpoint SIZE</c> option of <c>bench models</c> and <c>bench parity</c>.</summary>
    internal static Option<string> CheckpointOption(string description, string defaultSize)
    {
        var option = new Option<string>("--checkpoint")
        {
            Description = description,
            HelpName = "SIZE",
            DefaultValueFactory = _ => defaultSize,
        };
        option.AcceptOnlyFromAmong([.. BenchCheckpoints.Names]);
        return option;
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
            List<string> tables = [ModelBenchReport.Table(result), ModelBenchReport.Comparisons(result)];
            if (options.Checkpoint != "none")
            {
                await env.Out.WriteLineAsync($"distill: bench models: Hugging Face checkpoint '{options.Checkpoint}'");
                var loaded = await Task.Run(() => CheckpointBench.Run(options.Checkpoint, options.Repeats, s.Seed, line => env.Out.WriteLine(line), ct), ct);
                var (checkpointCsv, checkpointMd) = CheckpointBenchReport.Write(paths.Root, loaded);
                await env.Out.WriteLineAsync($"distill: wrote {checkpointCsv} and {checkpointMd}");
                tables.Add(CheckpointBenchReport.Table(loaded));
            }
            return (csv, md, tables);
        });
    }
}
