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
    /// with progress on the console and metrics in the run; returns the exit code. Every way the run can fail ends
    /// with an entry in <c>logs/error.log</c> and the console naming it (<see cref="FailureReport"/>): a failed stage,
    /// an exception before or after the stages, Ctrl-C / SIGTERM, an unhandled exception anywhere in the process.</summary>
    internal static async Task<int> RunInAsync(LoadedConfiguration config, RunPaths paths, CliEnvironment env, CancellationToken ct,
        string verb = "run")
    {
        FailureReport.TellRunScript(paths);
        var failures = new FailureReport(paths, env.Error, env.Time);
        using var watch = failures.Watch(verb, ct);
        var s = config.Settings;
        await env.Out.WriteLineAsync($"distill: run {paths.Root}");
        await env.Out.WriteLineAsync($"  preset {config.Preset}; stages {string.Join(" -> ", s.Stages)}; seed {s.Seed.ToString(CultureInfo.InvariantCulture)}; config {paths.ResolvedConfig}");

        var started = env.Time.GetTimestamp();
        try
        {
            using var metrics = new MetricsLog(paths.Metrics, env.Time, paths.TensorBoard);
            var progress = new ConsoleProgress(metrics, env.ProgressOutput, env.Colour, env.Time);
            var outcome = await env.Runner(s, paths, progress, ct);
            var elapsed = env.Time.GetElapsedTime(started);
            if (outcome.Succeeded)
            {
                await env.Out.WriteLineAsync($"distill: done in {Reporting.ReportWriter.Duration(elapsed)}; report {paths.Report}");
                return outcome.ExitCode;
            }
            if (outcome.Failure is { } failure)
            {
                failures.StageFailed(verb, failure);
                return outcome.ExitCode;
            }
            await env.Error.WriteLineAsync($"distill: {verb} failed (exit code {outcome.ExitCode}); logs in {paths.Logs}");
            return outcome.ExitCode;
        }
        catch (OperationCanceledException e) when (ct.IsCancellationRequested)
        {
            return failures.Interrupted(e switch
            {
                Distill.Actors.PipelineCancelledException cancelled => cancelled.Stage,
                _ when Composition.StartupStep.Of(e) is { } step => $"({step})",
                _ => failures.StageNow(),
            });
        }
        catch (ConfigurationErrorException e)
        {
            PrintConfigurationErrors(env.Error, e);
            failures.ExceptionFailed(verb, e, "(configuration)"); // found only now, in a run directory that exists
            return ExitCodes.ConfigurationError;
        }
        catch (Exception e)
        {
            return failures.ExceptionFailed(verb, e);
        }
    }

    internal static void PrintConfigurationErrors(TextWriter error, ConfigurationErrorException e)
    {
        error.WriteLine(e.Errors.Count == 1 ? "distill: configuration error:" : $"distill: {e.Errors.Count} configuration errors:");
        foreach (var message in e.Errors) error.WriteLine("  - " + message);
        error.WriteLine("Nothing was run.");
    }
}
