using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Cli;

/// <summary>How a verb reports an unexpected failure: the full exception into the run's <c>logs/error.log</c>, a
/// one-line summary and the log's path on stderr; returns <see cref="ExitCodes.RunFailed"/>.</summary>
internal static class FailureReport
{
    public static async Task<int> WriteAsync(CliEnvironment env, RunPaths paths, string verb, Exception e)
    {
        var log = Path.Combine(paths.Logs, "error.log");
        try
        {
            await File.AppendAllTextAsync(log, $"{DateTimeOffset.UtcNow:O} {e}\n", CancellationToken.None);
        }
        catch (IOException)
        {
            log = "(could not write logs/error.log)";
        }
        await env.Error.WriteLineAsync($"distill: {verb} failed: {e.GetType().Name}: {e.Message}");
        await env.Error.WriteLineAsync($"  details: {log}");
        return ExitCodes.RunFailed;
    }
}
