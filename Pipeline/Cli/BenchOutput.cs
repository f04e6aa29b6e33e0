using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Cli;

/// <summary>What every <c>bench</c> verb does around its measurement: the result tables on stdout after the files are
/// written, and one way to end (cancelled: nothing written, the cancelled exit code; failed: the error report in the run's
/// logs).</summary>
internal static class BenchOutput
{
    /// <summary>Loads the configuration and creates the bench run directory. On failure: null and the exit code
    /// (configuration errors listed by key, and a run directory that is not Distill's: 2; a run directory that cannot be
    /// made, named with the reason: 1).</summary>
    /// <param name="label">of the default directory name, <c>runs/&lt;stamp&gt;-&lt;label&gt;-&lt;preset&gt;</c>.</param>
    public static async Task<((LoadedConfiguration Config, RunPaths Paths)? Run, int ExitCode)> PrepareAsync(
        ConfigSources sources, CliEnvironment env, string label = BenchVerb.RunLabel)
    {
        LoadedConfiguration config;
        try
        {
            config = ConfigLoader.Load(sources);
        }
        catch (ConfigurationErrorException e)
        {
            RunVerb.PrintConfigurationErrors(env.Error, e);
            return (null, ExitCodes.ConfigurationError);
        }
        try
        {
            var (resolved, paths) = RunDirectory.Create(config, env.Time.GetUtcNow(), env.WorkingDirectory, label, pipeline: false);
            return ((resolved, paths), ExitCodes.Ok);
        }
        catch (ConfigurationErrorException e)
        {
            RunVerb.PrintConfigurationErrors(env.Error, e); // a folder that is not Distill's: nothing was written
            return (null, ExitCodes.ConfigurationError);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            await env.Error.WriteLineAsync($"distill: cannot create the run directory: {e.Message}");
            return (null, ExitCodes.RunFailed);
        }
    }

    /// <summary>As above, after the verb's own option checks: when <paramref name="errors"/> has any, they are printed
    /// with a pointer to <c>distill VERB --help</c> and nothing is created (exit code 2).</summary>
    public static async Task<((LoadedConfiguration Config, RunPaths Paths)? Run, int ExitCode)> PrepareAsync(
        IReadOnlyList<string> errors, string verb, ConfigSources sources, CliEnvironment env, string label)
    {
        if (errors.Count == 0) return await PrepareAsync(sources, env, label);
        foreach (var error in errors) await env.Error.WriteLineAsync("distill: " + error);
        await env.Error.WriteLineAsync($"See 'distill {verb} --help'. Nothing was run.");
        return (null, ExitCodes.ConfigurationError);
    }

    /// <summary>Runs <paramref name="measure"/>, which returns the written CSV and Markdown paths and the tables to
    /// print, then prints them separated by blank lines and names the files.</summary>
    public static Task<int> RunAsync(CliEnvironment env, RunPaths paths, CancellationToken ct,
        Func<Task<(string Csv, string Markdown, IReadOnlyList<string> Tables)>> measure) =>
        RunAsync(env, paths, ct, async () =>
        {
            var (csv, md, tables) = await measure();
            return (csv, md, tables, ExitCodes.Ok);
        });

    /// <summary>As above, for a bench whose result decides the exit code (<c>bench soak</c>: 1 when a run failed).</summary>
    public static async Task<int> RunAsync(CliEnvironment env, RunPaths paths, CancellationToken ct,
        Func<Task<(string Csv, string Markdown, IReadOnlyList<string> Tables, int ExitCode)>> measure)
    {
        try
        {
            var (csv, md, tables, exitCode) = await measure();
            foreach (var table in tables)
            {
                await env.Out.WriteLineAsync();
                await env.Out.WriteAsync(table.EndsWith('\n') ? table : table + Environment.NewLine);
            }
            await env.Out.WriteLineAsync();
            await env.Out.WriteLineAsync($"distill: wrote {csv} and {md}");
            return exitCode;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await env.Error.WriteLineAsync("distill: bench cancelled; nothing was written.");
            return ExitCodes.Cancelled;
        }
        catch (Exception e)
        {
            return new FailureReport(paths, env.Error, env.Time).ExceptionFailed("bench", e, "(bench)");
        }
    }
}
