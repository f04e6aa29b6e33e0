using System.CommandLine;
using Distill.Pipeline.Bench;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill bench parity</c>: the same forward pass in Distill and in transformers (<see cref="ParityBench"/>);
/// writes bench-parity.csv and bench-parity.md.</summary>
public static class BenchParityVerb
{
    public const string DefaultCheckpoint = "100m";

    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions("output directory (default runs/<yyyyMMdd-HHmmss>-bench-<preset>): a new or empty folder, " +
                                        "or a Distill run directory, whose bench files are replaced");
        var repeats = new Option<int>("--repeats", "-n")
        {
            Description = "timed forward passes on each side after one warm-up; the median is reported",
            HelpName = "N",
            DefaultValueFactory = _ => BenchVerb.DefaultRepeats,
        };
        repeats.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() < 1) result.AddError("--repeats must be at least 1.");
        });
        var checkpoint = BenchVerb.CheckpointOption($"size of the random Llama both sides run: 100m (default), 1b, tiny", DefaultCheckpoint);
        checkpoint.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<string>() == "none") result.AddError("--checkpoint none: bench parity needs a model.");
        });
        var python = new Option<string?>("--hf-python")
        {
            Description = "python of the hf-reference tool (transformers 4.40); default $HF_REFERENCE_HOME/python3 or ~/.cache/hf-reference/python3. " +
                          "Without it only Distill's side is measured.",
            HelpName = "PATH",
        };
        var command = new Command("parity",
            "Time the same forward pass of a random ~100M-parameter Llama checkpoint in Distill and in Hugging Face transformers " +
            "(same inputs, same thread count) and report the ratio; writes bench-parity.csv and bench-parity.md");
        options.AddTo(command);
        command.Add(repeats);
        command.Add(checkpoint);
        command.Add(python);
        command.SetAction((parse, ct) => ExecuteAsync(options.SourcesOf(parse), parse.GetValue(checkpoint)!, parse.GetValue(repeats), parse.GetValue(python), env, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(Configuration.ConfigSources sources, string size, int repeats, string? hfPython, CliEnvironment env, CancellationToken ct)
    {
        var (prepared, exitCode) = await BenchOutput.PrepareAsync(sources, env);
        if (prepared is not { } run) return exitCode;
        var (config, paths) = run;
        var s = config.Settings;
        TorchSharp.torch.set_num_threads(s.TorchThreads > 0 ? s.TorchThreads : Environment.ProcessorCount);
        return await BenchOutput.RunAsync(env, paths, ct, async () =>
        {
            await env.Out.WriteLineAsync($"distill: bench parity {paths.Root}");
            await env.Out.WriteLineAsync($"  checkpoint '{size}'; {repeats} repeat(s); torch threads {TorchSharp.torch.get_num_threads()}");
            var result = await Task.Run(() => ParityBench.Run(size, repeats, s.Seed, hfPython, line => env.Out.WriteLine(line), ct), ct);
            var (csv, md) = ParityBenchReport.Write(paths.Root, result);
            return (csv, md, [ParityBenchReport.Table(result)]);
        });
    }
}
