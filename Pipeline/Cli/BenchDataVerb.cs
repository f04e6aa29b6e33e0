using System.CommandLine;
using Distill.Pipeline.Bench;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill bench data</c>: the real-data loader path on rendered photographs (<see cref="DataBench"/>);
/// writes bench-data.csv and bench-data.md, the photos and JSONL files in bench/data/.</summary>
public static class BenchDataVerb
{
    public const int DefaultPhotos = 1000, DefaultStream = 100_000;

    /// <summary>Qwen3's tokenizer where tests/fixtures/tokenizers/fetch.sh puts it ($DISTILL_TOKENIZER_CACHE or
    /// ~/.cache/distill/tokenizers).</summary>
    public static string DefaultTokenizer => Path.Combine(
        Environment.GetEnvironmentVariable("DISTILL_TOKENIZER_CACHE") is { Length: > 0 } cache
            ? cache
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "distill", "tokenizers"),
        "qwen3");

    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions("output directory (default runs/<yyyyMMdd-HHmmss>-bench-<preset>): a new or empty folder, " +
                                        "or a Distill run directory, whose bench files are replaced");
        var photos = PositiveOption("--photos", "JPEG photos of 640x480 the bench renders and loads", DefaultPhotos);
        var stream = PositiveOption("--stream", "samples streamed through the reader for the peak-RSS figure", DefaultStream);
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "tokenizer folder (tokenizer.json); default Qwen3's from tests/fixtures/tokenizers/fetch.sh",
            HelpName = "DIR",
            DefaultValueFactory = _ => DefaultTokenizer,
        };
        var teacher = new Option<string>("--teacher")
        {
            Description = "a LLaVA folder (config.json is enough) whose forward cost is compared with the loaders; default LLaVA-1.5-7B's config from tests/fixtures/hf",
            HelpName = "DIR",
            DefaultValueFactory = _ => DefaultTeacher,
        };
        var command = new Command("data",
            "Time the real-data loader path (read, decode JPEG, pad, CLIP-336 processor, chat template, tokenize) on rendered 640x480 photos " +
            "with 1 and 2 loaders, and peak RSS while streaming many samples; writes bench-data.csv and bench-data.md");
        options.AddTo(command);
        command.Add(photos);
        command.Add(stream);
        command.Add(tokenizer);
        command.Add(teacher);
        command.SetAction((parse, ct) => ExecuteAsync(options.SourcesOf(parse), parse.GetValue(photos), parse.GetValue(stream), parse.GetValue(tokenizer)!, env, ct,
            parse.GetValue(teacher)));
        return command;
    }

    private static Option<int> PositiveOption(string name, string description, int value)
    {
        var option = new Option<int>(name) { Description = description, HelpName = "N", DefaultValueFactory = _ => value };
        option.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError($"{name} must be at least 1.");
        });
        return option;
    }

    /// <summary>LLaVA-1.5-7B's config.json, as the reference library wrote it (tests/fixtures/hf).</summary>
    private static string DefaultTeacher
    {
        get
        {
            const string relative = "tests/fixtures/hf/shapes-llava-1.5-7b";
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return Path.Combine(dir.FullName, relative);
            return relative;
        }
    }

    public static async Task<int> ExecuteAsync(Configuration.ConfigSources sources, int photos, int stream, string tokenizer, CliEnvironment env, CancellationToken ct,
        string? teacher = null)
    {
        var (prepared, exitCode) = await BenchOutput.PrepareAsync(sources, env);
        if (prepared is not { } run) return exitCode;
        var (config, paths) = run;
        return await BenchOutput.RunAsync(env, paths, ct, async () =>
        {
            await env.Out.WriteLineAsync($"distill: bench data {paths.Root}");
            var work = Path.Combine(paths.Root, "bench", "data");
            var result = await Task.Run(() => DataBench.Run(work, tokenizer, photos, stream, config.Settings.Seed, line => env.Out.WriteLine(line), ct,
                teacher is { Length: > 0 } && Directory.Exists(teacher) ? teacher : null), ct);
            var (csv, md) = DataBenchReport.Write(paths.Root, result);
            return (csv, md, [DataBenchReport.Table(result)]);
        });
    }
}
