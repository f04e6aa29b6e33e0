using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Distill.Pipeline.Bench;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill bench pipeline</c>: the dataflow's own costs (<see cref="PipelineBench"/>): teacher-worker
/// scaling against the ideal, trainer utilisation with Arrow and messaging shares, replay vs live vs the trainer fed
/// from memory, bytes per cached token, the compact top-K cache at a real vocabulary (<c>--sections</c> picks parts). Writes <c>&lt;run&gt;/bench/pipeline.csv</c> and <c>pipeline.md</c>.</summary>
public static class BenchPipelineVerb
{
    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions(
            "output directory (default runs/<yyyyMMdd-HHmmss>-bench-<preset>): a new or empty folder, or a Distill run " +
            "directory, whose bench/ folder is replaced",
            PipelineBenchOptions.DefaultPreset);
        var latency = new Option<int>("--latency-ms")
        {
            Description = "latency of the teacher stand-in of the scaling benchmark, per batch, in milliseconds",
            HelpName = "MS",
            DefaultValueFactory = _ => (int)PipelineBenchOptions.DefaultLatency.TotalMilliseconds,
        };
        var workers = new Option<string>("--workers")
        {
            Description = "teacher worker counts of the scaling benchmark, comma-separated",
            HelpName = "N,N,...",
            DefaultValueFactory = _ => string.Join(",", PipelineBenchOptions.DefaultWorkers),
        };
        var repeats = new Option<int>("--repeats", "-n")
        {
            Description = "runs of each scaling setting, and rounds of live / replay / limit runs (medians are reported)",
            HelpName = "N",
            DefaultValueFactory = _ => PipelineBenchOptions.DefaultRepeats,
        };
        var sections = new Option<string>("--sections")
        {
            Description = $"parts to measure, comma-separated: {PipelineBench.Scaling} (a), {PipelineBench.Stages} (b-e: utilisation, replay, " +
                          $"cache bytes, overlap; they share the live runs), {PipelineBench.Codec} (f: the compact top-K cache at a real vocabulary, " +
                          $"rows in the CSV's cache section), {PipelineBench.Memory} (g: mimic's peak memory at the preset's data and --memory-scale times as much, " +
                          "child runs)",
            HelpName = "PART,PART,...",
            DefaultValueFactory = _ => string.Join(",", PipelineBench.Parts),
        };
        var memoryScale = new Option<int>("--memory-scale")
        {
            Description = "the larger memory run (g) has this many times the preset's training scenes",
            HelpName = "N",
            DefaultValueFactory = _ => MemoryBench.Scale,
        };
        memoryScale.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is var n and (< 2 or > 1000)) r.AddError($"--memory-scale must be in 2..1000, got {n}.");
        });
        var codecVocab = new Option<int>("--codec-vocab")
        {
            Description = "vocabulary of the codec measurement (f); default Qwen2's",
            HelpName = "N",
            DefaultValueFactory = _ => CacheCodecBenchOptions.Qwen2Vocab,
        };
        var codecTokens = new Option<int>("--codec-tokens")
        {
            Description = "tokens of the codec measurement (f)",
            HelpName = "N",
            DefaultValueFactory = _ => new CacheCodecBenchOptions().Tokens,
        };
        sections.Validators.Add(r =>
        {
            if (ParseSections(r.GetValueOrDefault<string>(), out var error) is null) r.AddError(error!);
        });
        int largestK = new CacheCodecBenchOptions().TopKs.Max();
        codecVocab.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is var n && n < largestK) r.AddError($"--codec-vocab must be at least the largest K, {largestK}; got {n}.");
        });
        codecTokens.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is var n and < 1) r.AddError($"--codec-tokens must be at least 1, got {n}.");
        });
        latency.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is var ms and < 1) r.AddError($"--latency-ms must be at least 1, got {ms}.");
        });
        repeats.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is var n and < 1) r.AddError($"--repeats must be at least 1, got {n}.");
        });
        workers.Validators.Add(r =>
        {
            if (ParseWorkers(r.GetValueOrDefault<string>(), out var error) is null) r.AddError(error!);
        });

        var command = new Command("pipeline",
            "Costs of the dataflow itself: teacher-worker scaling against the ideal (a teacher stand-in of fixed latency), trainer " +
            "utilisation and the Arrow and messaging shares with live teachers, the student stages live vs replayed from the cache vs " +
            "fed from memory, bytes per cached token vs dense logits; writes bench/pipeline.csv and bench/pipeline.md in the run directory");
        options.AddTo(command);
        command.Add(latency);
        command.Add(workers);
        command.Add(repeats);
        command.Add(sections);
        command.Add(codecVocab);
        command.Add(codecTokens);
        command.Add(memoryScale);
        command.SetAction((parse, ct) => ExecuteAsync(new PipelineBenchOptions
        {
            Sources = options.SourcesOf(parse),
            Latency = TimeSpan.FromMilliseconds(parse.GetValue(latency)),
            Workers = ParseWorkers(parse.GetValue(workers), out _)!,
            Repeats = parse.GetValue(repeats),
            Sections = ParseSections(parse.GetValue(sections), out _)!,
            Codec = new CacheCodecBenchOptions { VocabSize = parse.GetValue(codecVocab), Tokens = parse.GetValue(codecTokens) },
            MemoryScale = parse.GetValue(memoryScale),
            Command = env.DistillCommand,
        }, env, ct));
        return command;
    }

    /// <summary>"1,2,4,8" -> [1, 2, 4, 8]; null with an error naming the option for anything else (empty, not a
    /// number, below 1, above <see cref="PipelineBenchOptions.MaxWorkers"/>, repeated).</summary>
    public static IReadOnlyList<int>? ParseWorkers(string? text, out string? error)
    {
        error = null;
        var items = (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        var counts = new List<int>();
        foreach (var item in items)
        {
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n < 1 || n > PipelineBenchOptions.MaxWorkers)
            {
                error = $"--workers takes worker counts from 1 to {PipelineBenchOptions.MaxWorkers}, comma-separated (like 1,2,4,8); got '{text}'.";
                return null;
            }
            if (counts.Contains(n))
            {
                error = $"--workers names {n} twice in '{text}'.";
                return null;
            }
            counts.Add(n);
        }
        return counts;
    }

    /// <summary>"scaling,codec" -> the parts in <see cref="PipelineBench.Parts"/> order; null with an error naming the
    /// option for an empty list, an unknown part or one named twice.</summary>
    public static IReadOnlyList<string>? ParseSections(string? text, out string? error)
    {
        error = null;
        var items = (text ?? "").Split(',', StringSplitOptions.TrimEntries);
        foreach (var item in items)
        {
            if (!PipelineBench.Parts.Contains(item))
            {
                error = $"--sections takes {string.Join(", ", PipelineBench.Parts)}, comma-separated; got '{text}'.";
                return null;
            }
            if (items.Count(i => i == item) > 1)
            {
                error = $"--sections names {item} twice in '{text}'.";
                return null;
            }
        }
        return PipelineBench.Parts.Where(items.Contains).ToList();
    }

    public static async Task<int> ExecuteAsync(PipelineBenchOptions options, CliEnvironment env, CancellationToken ct)
    {
        var (prepared, exitCode) = await BenchOutput.PrepareAsync(options.Sources, env);
        if (prepared is not { } run) return exitCode;
        var (config, paths) = run;

        // Every run of the benchmark resolves the same layers, with its --run under this directory.
        var sources = options.Sources with { RunDir = null };
        return await BenchOutput.RunAsync(env, paths, ct, async () =>
        {
            await env.Out.WriteLineAsync($"distill: bench pipeline {paths.Root}");
            await env.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"  preset {config.Preset}; teacher stand-in {options.Latency.TotalMilliseconds:0.#} ms; workers {string.Join(",", options.Workers)}; " +
                $"{options.Repeats} repeat(s); {Environment.ProcessorCount} cores; sections {string.Join(",", options.Sections)}"));
            var result = await PipelineBench.RunAsync(options with { Sources = sources }, config.Preset, paths, env.Time.GetUtcNow(),
                line => env.Out.WriteLine(line), ct);
            var (csv, md) = PipelineBenchReport.Write(PipelineBench.OutputDir(paths.Root), result);
            var tables = new List<string> { PipelineBenchReport.Machine(result) };
            if (result.Scaling.Count > 0) tables.Add(PipelineBenchReport.ScalingTable(result));
            if (result.Utilisation.Count > 0)
                tables.AddRange([PipelineBenchReport.UtilisationTable(result), PipelineBenchReport.ReplayTable(result), PipelineBenchReport.CacheTable(result)]);
            if (result.Codec is { } codec) tables.AddRange([CacheCodecReport.Summary(codec), CacheCodecReport.Table(codec)]);
            return (csv, md, tables);
        });
    }
}
