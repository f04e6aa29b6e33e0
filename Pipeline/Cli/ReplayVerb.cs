using System.CommandLine;
using System.Text.RegularExpressions;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Cache;

namespace Distill.Pipeline.Cli;

/// <summary><c>distill replay --run DIR [--into DIR] [-D key=value ...]</c>: trains the student stages of a finished
/// (or interrupted) run again from its teacher-output cache, with no teacher replica loaded
/// (<c>distill.cache.mode = replay</c>). The replay is a new run directory (default
/// <c>runs/&lt;stamp&gt;-replay-&lt;preset&gt;</c>), so the original run and its students stay as they were for comparison.
/// Its configuration is the source run's resolved one with: the stages without <c>eval</c> (which would load the
/// teacher to score it), the cache directory set to the source run's cache, and the mode set to replay. The source
/// run's teacher checkpoint is copied into the replay: its <c>teacher</c> stage then finds it by fingerprint and
/// loads nothing, and the students take their frozen vision tower from it. <c>-D</c> overrides are applied on top
/// (e.g. <c>-D distill.mimic.learning-rate=1e-3</c>), except the cache mode, cache directory and run directory.</summary>
public static partial class ReplayVerb
{
    /// <summary>Label of the default replay directory: <c>runs/&lt;yyyyMMdd-HHmmss&gt;-replay-&lt;preset&gt;</c>.</summary>
    public const string RunLabel = "replay";

    public static Command Create(CliEnvironment env)
    {
        var run = new Option<string>("--run")
        {
            Description = "the run whose cached teacher outputs are replayed",
            HelpName = "DIR",
            Required = true,
        };
        var into = new Option<string?>("--into")
        {
            Description = "run directory of the replay (default runs/<yyyyMMdd-HHmmss>-replay-<preset>): a new or empty folder, " +
                          "or a Distill run directory, which is resumed",
            HelpName = "DIR",
        };
        var define = new Option<string[]>("--define", "-D")
        {
            Description = "override one key of the replayed configuration (-D distill.mimic.learning-rate=1e-3); repeatable",
            HelpName = "key=value",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("replay",
            "Train the student stages of a run again from its teacher-output cache; no teacher is loaded");
        command.Add(run);
        command.Add(into);
        command.Add(define);
        command.SetAction((parse, ct) =>
            ExecuteAsync(parse.GetValue(run)!, parse.GetValue(into), parse.GetValue(define) ?? [], env, ct));
        return command;
    }

    public static async Task<int> ExecuteAsync(string run, string? into, IReadOnlyList<string> defines, CliEnvironment env,
        CancellationToken ct)
    {
        var baseDir = Path.GetFullPath(env.WorkingDirectory ?? Directory.GetCurrentDirectory());
        var source = Path.GetFullPath(run, baseDir);
        var resolved = Path.Combine(source, RunPaths.ResolvedConfigName);
        if (!File.Exists(resolved))
        {
            await env.Error.WriteLineAsync($"distill: {source} is not a run directory: {RunPaths.ResolvedConfigName} is missing");
            return ExitCodes.ConfigurationError;
        }
        var target = into is null ? null : Path.GetFullPath(into, baseDir);
        if (target is not null && Path.TrimEndingDirectorySeparator(target) == Path.TrimEndingDirectorySeparator(source))
        {
            await env.Error.WriteLineAsync("distill: --into must differ from --run: a replay writes its own run directory");
            return ExitCodes.ConfigurationError;
        }
        var cacheRoot = CacheVerb.CacheRootOfRun(source);
        if (!Directory.Exists(cacheRoot) || CacheInventory.List(cacheRoot).Count == 0)
        {
            await env.Error.WriteLineAsync($"distill: run {source} has no teacher-output cache ({cacheRoot} " +
                                           $"{(Directory.Exists(cacheRoot) ? "holds no stage cache" : "does not exist")}); " +
                                           "it ran with distill.cache.mode = off or never reached a distillation stage");
            return ExitCodes.ConfigurationError;
        }

        LoadedConfiguration config;
        try
        {
            var preset = PresetOf(File.ReadAllText(resolved));
            var original = ConfigLoader.Load(new ConfigSources { Preset = preset, ConfigFile = resolved }).Settings;
            var stages = original.Stages.Where(s => s != "eval" && !(s == "teacher" && original.Teacher.Checkpoint.Length > 0)).ToList();
            config = ConfigLoader.Load(new ConfigSources
            {
                Preset = preset,
                ConfigFile = resolved,
                Overrides =
                [
                    $"distill.stages=[{string.Join(", ", stages)}]",
                    .. defines,
                    "distill.cache.mode=replay",
                    $"distill.cache.dir={cacheRoot}",
                    "distill.run-dir=",
                ],
                RunDir = target,
            });
        }
        catch (ConfigurationErrorException e)
        {
            RunVerb.PrintConfigurationErrors(env.Error, e);
            return ExitCodes.ConfigurationError;
        }

        RunPaths paths;
        try
        {
            (config, paths) = RunDirectory.Create(config, env.Time.GetUtcNow(), baseDir, RunLabel);
        }
        catch (ConfigurationErrorException e)
        {
            RunVerb.PrintConfigurationErrors(env.Error, e); // --into is not Distill's: nothing was written
            return ExitCodes.ConfigurationError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            await env.Error.WriteLineAsync($"distill: cannot prepare the replay directory: {e.Message}");
            return ExitCodes.RunFailed;
        }
        FailureReport.TellRunScript(paths);
        try
        {
            TeacherCopy.Into(config.Settings, source, paths);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            // The replay's directory exists: the failure goes into its error log.
            return new FailureReport(paths, env.Error, env.Time).ExceptionFailed("replay", e, "(copying the teacher)");
        }
        await env.Out.WriteLineAsync($"distill: replay of {source} from its cache {cacheRoot}");
        return await RunVerb.RunInAsync(config, paths, env, ct, "replay");
    }

    /// <summary>The preset named in a resolved configuration's header, if this build has it; else the default.</summary>
    private static string PresetOf(string resolvedText)
    {
        var match = PresetPattern().Match(resolvedText);
        var hocon = HoconLocator.TryFind();
        return match.Success && hocon is not null && HoconLocator.Presets(hocon).Contains(match.Groups[1].Value)
            ? match.Groups[1].Value
            : ConfigSources.DefaultPreset;
    }

    [GeneratedRegex(@"\(preset ([A-Za-z0-9_.\-]+)\)")]
    private static partial Regex PresetPattern();
}
