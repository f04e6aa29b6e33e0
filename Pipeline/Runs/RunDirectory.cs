using System.Globalization;
using Distill.Models.IO;
using Distill.Pipeline.Configuration;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Runs;

/// <summary>Checks the folders a run writes into (<see cref="RunFolders"/>), creates the run directory and writes
/// <c>config.resolved.conf</c> into it.</summary>
public static class RunDirectory
{
    /// <summary>The default run directory name: <c>yyyyMMdd-HHmmss-preset</c> (local time), or
    /// <c>yyyyMMdd-HHmmss-label-preset</c> with a <paramref name="label"/> (e.g. <c>bench</c>).</summary>
    public static string DefaultName(DateTimeOffset now, string preset, string? label = null) =>
        now.ToLocalTime().ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" +
        (string.IsNullOrEmpty(label) ? preset : label + "-" + preset);

    /// <summary>Creates the run directory (<c>distill.run-dir</c>, or <c>runs/&lt;timestamp&gt;-&lt;preset&gt;</c> under
    /// <paramref name="baseDirectory"/>), its checkpoints/ and logs/ folders, and writes the resolved configuration
    /// with the absolute run and data directories filled in. An existing directory given explicitly is resumed when it
    /// is Distill's (see <see cref="OwnedFolder.Run"/>); a default name that already exists gets a -2, -3, ... suffix.
    /// First, before anything is written, every folder the run writes into is checked (<see cref="RunFolders"/>): one
    /// that exists, is not empty and is not Distill's throws <see cref="ConfigurationErrorException"/> naming it.</summary>
    /// <param name="label">put into the default name (see <see cref="DefaultName"/>); null for a pipeline run.</param>
    /// <param name="pipeline">true when the verb runs the pipeline (which writes the dataset, cache and export
    /// folders); false for a verb that writes only into the run directory (bench).</param>
    /// <returns>the configuration with <c>distill.run-dir</c> and <c>distill.data.dir</c> made absolute, and the paths.</returns>
    public static (LoadedConfiguration Config, RunPaths Paths) Create(LoadedConfiguration config, DateTimeOffset now,
        string? baseDirectory = null, string? label = null, bool pipeline = true)
    {
        baseDirectory = Path.GetFullPath(baseDirectory ?? Directory.GetCurrentDirectory());
        var settings = config.Settings;
        string root;
        if (settings.RunDir.Length > 0)
        {
            root = Path.GetFullPath(settings.RunDir, baseDirectory);
        }
        else
        {
            var name = DefaultName(now, config.Preset, label);
            root = Path.Combine(baseDirectory, "runs", name);
            for (var i = 2; Directory.Exists(root); i++) root = Path.Combine(baseDirectory, "runs", $"{name}-{i}");
        }

        var data = settings.Data.Dir.Length > 0 ? Path.GetFullPath(settings.Data.Dir, baseDirectory) : null;
        var paths = RunPaths.For(root, data);
        // Resolved like the data directory; empty = <run>/cache.
        var cache = settings.Cache.Dir.Length > 0 ? Path.GetFullPath(settings.Cache.Dir, baseDirectory) : Path.Combine(paths.Root, "cache");

        RunFolders.Claim(RunFolders.Of(paths, RunFolders.WritesCache(settings) ? cache : null, pipeline));
        Directory.CreateDirectory(paths.Checkpoints);
        Directory.CreateDirectory(paths.Logs);

        var resolved = config
            .With("distill.run-dir", paths.Root, config.SourceOf("distill.run-dir") is var s && s.StartsWith("default ", StringComparison.Ordinal) ? "resolved run directory" : s)
            .With("distill.data.dir", paths.Data, config.SourceOf("distill.data.dir") is var d && d.StartsWith("default ", StringComparison.Ordinal) ? "resolved data directory" : d);
        // A relative cache directory is made absolute like the data directory; empty stays empty (= <run>/cache).
        if (settings.Cache.Dir.Length > 0 && !Path.IsPathFullyQualified(settings.Cache.Dir))
            resolved = resolved.With("distill.cache.dir", Path.GetFullPath(settings.Cache.Dir, baseDirectory), config.SourceOf("distill.cache.dir"));

        var header = $"{OwnedFolder.ResolvedConfigTitle}{Path.GetFileName(paths.Root)}, written {now.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC (preset {config.Preset}).\n" +
                     "Every key is set, so `distill run --config <this file>` repeats this run (in this directory).";
        AtomicFile.WriteAllText(paths.ResolvedConfig, resolved.ToHocon(header));
        return (resolved, paths);
    }
}
