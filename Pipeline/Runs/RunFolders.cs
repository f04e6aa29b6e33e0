using Distill.Pipeline.Configuration;
using Distill.Stages.Cache;
using Distill.Stages.Evaluation;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Runs;

/// <summary>The folders a run writes into, checked against <see cref="OwnedFolder"/> at start-up before anything is
/// written: the run directory, and for the pipeline the dataset folder (<c>distill.data.dir</c>), the teacher-output
/// cache (<c>distill.cache.dir</c>, when the cache mode writes) and the run's <c>export/</c> (with its temporary
/// <c>export.tmp</c>). Every refusal is reported at once.</summary>
public static class RunFolders
{
    /// <summary>One folder: the setting that names it, its absolute path and the kind it must be.</summary>
    public sealed record Folder(string Setting, string Path, OwnedFolder Kind);

    /// <summary>The folders of a run at <paramref name="paths"/>; with <paramref name="pipeline"/> false (bench verbs,
    /// which write no dataset or cache of the configuration's) the run directory only. <paramref name="cacheRoot"/>:
    /// the absolute cache directory, or null when the cache mode writes nothing (off, replay).</summary>
    public static IReadOnlyList<Folder> Of(RunPaths paths, string? cacheRoot, bool pipeline)
    {
        var folders = new List<Folder> { new("distill.run-dir", paths.Root, OwnedFolder.Run) };
        if (!pipeline) return folders;
        folders.Add(new("distill.data.dir", paths.Data, OwnedFolder.Dataset));
        if (cacheRoot is not null) folders.Add(new("distill.cache.dir", cacheRoot, OwnedFolder.Cache));
        folders.Add(new("the run's export folder", paths.Export, OwnedFolder.Export));
        folders.Add(new("the run's export folder", StudentExport.TempOf(paths.Export), OwnedFolder.Export));
        return folders;
    }

    /// <summary>Whether a run of <paramref name="settings"/> writes into its cache directory.</summary>
    public static bool WritesCache(DistillSettings settings) => settings.Cache.Mode is CacheMode.Reuse or CacheMode.Write;

    /// <summary>Every refusal, in the order of <paramref name="folders"/>; empty when Distill may write into them all.</summary>
    public static IReadOnlyList<string> Refusals(IReadOnlyList<Folder> folders) =>
        folders.Select(f => f.Kind.Refusal(f.Path, f.Setting)).OfType<string>().ToList();

    /// <summary>Throws <see cref="ConfigurationErrorException"/> listing every refusal, having written nothing; else
    /// creates and marks every folder but the export (which the eval stage assembles), outermost first, so that a
    /// folder inside another one (the default <c>&lt;run&gt;/data</c>) or the same one (a run directory that is also
    /// the dataset folder) is claimed after it.</summary>
    public static void Claim(IReadOnlyList<Folder> folders)
    {
        if (Refusals(folders) is { Count: > 0 } refusals) throw new ConfigurationErrorException(refusals);
        foreach (var folder in folders.Where(f => f.Kind != OwnedFolder.Export).OrderBy(f => System.IO.Path.TrimEndingDirectorySeparator(f.Path).Length))
            folder.Kind.Claim(folder.Path, folder.Setting);
    }
}
