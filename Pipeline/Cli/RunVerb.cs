using System.CommandLine;
using System.Globalization;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Progress;
using Distill.Pipeline.Runs;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Cli;

/// <summary>Options of <c>distill run</c>.</summary>
public sealed record RunOptions
{
    public string Preset { get; init; } = ConfigSources.DefaultPreset;
    public string? ConfigFile { get; init; }
    public IReadOnlyList<string> Defines { get; init; } = [];
    public string? RunDir { get; init; }

    /// <summary>Layer hocon/cluster.conf over the preset (the coordinator of a cluster run).</summary>
    public bool ClusterOverlay { get; init; }
}

/// <summary><c>distill run</c>: load and validate the configuration, create the run directory, run the pipeline.</summary>
public static class RunVerb
{
    public static Command Create(CliEnvironment env)
    {
        var options = new ConfigOptions("run directory (default runs/<yyyyMMdd-HHmmss>-<preset>): a new or empty folder, or a " +
                                        "Distill run directory, which is resumed");
        var command = new Command("run", "Run the pipeline: generate data, teacher, distil, evaluate, report");
        options.AddTo(command);
        command.SetAction((parse, ct) =>
        {
            var sources = options.SourcesOf(parse);
            return ExecuteAsync(new RunOptions
            {
                Preset = sources.Preset,
                ConfigFile = sources.ConfigFile,
                Defines = sources.Overrides,
                RunDir = sources.RunDir,
            }, env, ct);
        });
        return command;
    }

    public static async Task<int> ExecuteAsync(RunOptions options, CliEnvironment env, CancellationToken ct)
    {
        LoadedConfiguration config;
        try
        {
            config = ConfigLoader.Load(new ConfigSources
            {
                Preset = options.Preset,
                ConfigFile = options.ConfigFile,
                Overrides = options.Defines,
                RunDir = options.RunDir,
                ClusterOverlay = options.ClusterOverlay,
            });
        }
        catch (ConfigurationErrorException e)
        {
            PrintConfigurationErrors(env.Error, e);
            return ExitCodes.ConfigurationError;
        }

        RunPaths paths;
        try
        {
            (config, paths) = RunDirectory.Create(config, env.Time.GetUtcNow(), env.WorkingDirectory);
        }
        catch (ConfigurationErrorException e)
        {
            PrintConfigurationErrors(env.Error, e); // a folder that is not Distill's: nothing was written
            return ExitCodes.ConfigurationError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            await env.Error.WriteLineAsync($"distill: cannot create the run directory: {e.Message}");
            return ExitCodes.RunFailed;
        }

        return await RunInAsync(config, paths, env, ct);
    }

    /// <summary>Runs the pipeline of <paramref name="config"/> in the created run directory <paramref name="paths"/>
    /// with progress on the console and metrics in the run; returns the exit code.</summary>
    internal static async Task<int> RunInAsync(LoadedConfiguration config, RunPaths paths, CliEnvironment env, CancellationToken ct)
    {
        var s = config.Settings;
        await env.Out.WriteLineAsync($"distill: run {paths.Root}");
        await env.Out.WriteLineAsync($"  preset {config.Preset}; stages {string.Join(" -> ", s.Stages)}; seed {s.Seed.ToString(CultureInfo.InvariantCulture)}; config {paths.ResolvedConfig}");

        var started = env.Time.GetTimestamp();
        try
        {
            using var metrics = new MetricsLog(paths.Metrics, env.Time);
            var progress = new ConsoleProgress(metrics, env.ProgressOutput, env.Colour, env.Time);
            var code = await env.Runner(s, paths, progress, ct);
            var elapsed = env.Time.GetElapsedTime(started);
            if (code == ExitCodes.Ok)
                await env.Out.WriteLineAsync($"distill: done in {Reporting.ReportWriter.Duration(elapsed)}; report {paths.Report}");
            else
                await env.Error.WriteLineAsync($"distill: run failed (exit code {code}); logs in {paths.Logs}");
            return code;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await env.Error.WriteLineAsync($"distill: cancelled; finished stages are kept in {paths.Root} (run again with --run {paths.Root} to resume)");
            return ExitCodes.Cancelled;
        }
        catch (ConfigurationErrorException e)
        {
            PrintConfigurationErrors(env.Error, e);
            return ExitCodes.ConfigurationError;
        }
        catch (Exception e)
        {
            return await FailureReport.WriteAsync(env, paths, "run", e);
        }
    }

    internal static void PrintConfigurationErrors(TextWriter error, ConfigurationErrorException e)
    {
        error.WriteLine(e.Errors.Count == 1 ? "distill: configuration error:" : $"distill: {e.Errors.Count} configuration errors:");
        foreach (var message in e.Errors) error.WriteLine("  - " + message);
        error.WriteLine("Nothing was run.");
    }
}
