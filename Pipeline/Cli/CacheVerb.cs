using System.CommandLine;
using System.Globalization;
using Akka.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Cache;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill cache ls|verify [--run DIR | --dir CACHE]</c>: the teacher-output caches under a cache
/// directory (DESIGN 8). <c>ls</c> prints one row per stage cache; <c>verify</c> checks every part (size, sha256,
/// Arrow schema and metadata) and exits 1 naming each bad part. Both only read.</summary>
public static class CacheVerb
{
    public static Command Create(CliEnvironment env)
    {
        var cache = new Command("cache", "Inspect the teacher-output cache: 'cache ls', 'cache verify'");
        cache.Add(Sub("ls", "List the stage caches: teacher, stage, key, parts, rows, bytes, complete", env, ListAsync));
        cache.Add(Sub("verify", "Check every cached part (size, sha256, Arrow schema, teacher and tokenizer); " +
                                "exit code 1 and the bad part's path when one fails", env, VerifyAsync));
        return cache;
    }

    private static Command Sub(string name, string description, CliEnvironment env,
        Func<string, CliEnvironment, Task<int>> action)
    {
        var run = new Option<string?>("--run") { Description = "a run directory: its cache (distill.cache.dir, default <run>/cache)", HelpName = "DIR" };
        var dir = new Option<string?>("--dir") { Description = "a cache directory", HelpName = "CACHE" };
        var command = new Command(name, description);
        command.Add(run);
        command.Add(dir);
        command.SetAction(async (parse, _) =>
        {
            var root = await ResolveAsync(parse.GetValue(run), parse.GetValue(dir), env);
            return root is null ? ExitCodes.ConfigurationError : await action(root, env);
        });
        return command;
    }

    /// <summary>The cache directory named by <c>--run</c> or <c>--dir</c> (exactly one), or null after printing why.</summary>
    internal static async Task<string?> ResolveAsync(string? run, string? dir, CliEnvironment env)
    {
        if ((run is null) == (dir is null))
        {
            await env.Error.WriteLineAsync("distill: give either --run DIR or --dir CACHE");
            return null;
        }
        var baseDir = Path.GetFullPath(env.WorkingDirectory ?? Directory.GetCurrentDirectory());
        string root;
        if (dir is not null)
        {
            root = Path.GetFullPath(dir, baseDir);
        }
        else
        {
            var runDir = Path.GetFullPath(run!, baseDir);
            try
            {
                root = CacheRootOfRun(runDir);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ConfigurationException)
            {
                await env.Error.WriteLineAsync($"distill: {e.Message}");
                return null;
            }
        }
        if (!Directory.Exists(root))
        {
            await env.Error.WriteLineAsync($"distill: cache directory {root} does not exist");
            return null;
        }
        return root;
    }

    /// <summary>The cache root a run used: <c>distill.cache.dir</c> of its resolved configuration, or
    /// <c>&lt;run&gt;/cache</c>.</summary>
    public static string CacheRootOfRun(string runDir)
    {
        var resolved = Path.Combine(runDir, RunPaths.ResolvedConfigName);
        if (!File.Exists(resolved))
            throw new FileNotFoundException($"{runDir} is not a run directory: {RunPaths.ResolvedConfigName} is missing", resolved);
        var dir = ConfigurationFactory.ParseString(File.ReadAllText(resolved)).GetString("distill.cache.dir", "") ?? "";
        return dir.Length > 0 ? Path.GetFullPath(dir, runDir) : Path.Combine(runDir, "cache");
    }

    private static async Task<int> ListAsync(string root, CliEnvironment env)
    {
        var entries = CacheInventory.List(root);
        await env.Out.WriteLineAsync($"distill: teacher-output cache {root}");
        if (entries.Count == 0)
        {
            await env.Out.WriteLineAsync("  (no stage caches)");
            return ExitCodes.Ok;
        }
        var rows = new List<string[]> { new[] { "teacher", "stage", "key", "parts", "rows", "bytes", "complete" } };
        foreach (var e in entries)
        {
            var (teacher, stage, key) = e.Layout;
            rows.Add(e.Manifest is { } m
                ? [teacher, stage, key, $"{m.Parts.Count}/{m.ShardCount}", Num(m.Rows), Num(m.Bytes), m.Complete ? "yes" : "no"]
                : [teacher, stage, key, "-", "-", "-", $"unreadable: {e.Error}"]);
        }
        await env.Out.WriteAsync(Table(rows));
        return ExitCodes.Ok;
    }

    private static async Task<int> VerifyAsync(string root, CliEnvironment env)
    {
        var entries = CacheInventory.List(root);
        var bad = 0;
        foreach (var entry in entries)
        {
            var result = CacheInventory.Verify(entry);
            var (teacher, stage, key) = entry.Layout;
            var name = $"{teacher}/{stage}/{key}";
            if (result.Ok)
                await env.Out.WriteLineAsync($"OK   {name}: {entry.Manifest!.Parts.Count}/{entry.Manifest.ShardCount} parts, {Num(entry.Manifest.Rows)} rows verified");
            foreach (var problem in result.Problems) await env.Error.WriteLineAsync($"BAD  {problem.Path}: {problem.Problem}");
            foreach (var note in result.Notes) await env.Out.WriteLineAsync($"note {note}");
            bad += result.Problems.Count;
        }
        if (bad > 0)
        {
            await env.Error.WriteLineAsync($"distill: cache verify: {bad} problem(s) in {root}; a run with distill.cache.mode = reuse removes bad parts and computes them again");
            return ExitCodes.RunFailed;
        }
        await env.Out.WriteLineAsync($"distill: cache verify: {entries.Count} stage cache(s) in {root}, all parts verified");
        return ExitCodes.Ok;
    }

    private static string Num(long n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>Left-aligned columns separated by two spaces.</summary>
    internal static string Table(IReadOnlyList<string[]> rows)
    {
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var sb = new System.Text.StringBuilder();
        foreach (var row in rows)
            sb.Append("  ").AppendJoin("  ", row.Select((cell, c) => c == row.Length - 1 ? cell : cell.PadRight(widths[c]))).Append('\n');
        return sb.ToString();
    }
}
