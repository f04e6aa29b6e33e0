using System.Text;
using Distill.Stages.Cache;
using Distill.Stages.Data;
using Distill.Stages.Evaluation;

namespace Distill.Stages.Workspace;

/// <summary>The one rule for where Distill writes: only into a folder of its own. A folder is Distill's to write into
/// when it does not exist yet, when it is empty (Distill's marker files aside), or when it carries the mark of its
/// kind. Anything else that exists is refused: Distill adds no file to it and replaces none in it.
/// <list type="bullet">
/// <item><see cref="Run"/> (the run directory, <c>--run</c> / <c>distill.run-dir</c>): <c>.distill-run</c>, written
/// when Distill claims the folder, before anything else; a run directory of an earlier version (which had no marker) by
/// its <c>config.resolved.conf</c> beginning with Distill's header line.</item>
/// <item><see cref="Dataset"/> (<c>distill.data.dir</c>): <c>.distill-dataset</c>, written before the first dataset file,
/// so a dataset cut short by a crash (<c>dataset.json</c>, its "complete" mark, is written last) is still Distill's and
/// is written again; a dataset of an earlier version by its <c>dataset.json</c> of format distill-shapes/v1.</item>
/// <item><see cref="Cache"/> (<c>distill.cache.dir</c>): <c>.distill-cache</c>; a cache of an earlier version by a
/// <c>&lt;teacher&gt;/&lt;stage&gt;/&lt;key&gt;/manifest.json</c> of format distill-cache/v1.</item>
/// <item><see cref="Export"/> (<c>&lt;run&gt;/export</c> and its temporary <c>export.tmp</c>): no marker file; its
/// README.txt, beginning "Distill student export:", is the first file Distill writes into it.</item>
/// </list>
/// A marker counts by its name alone, so one cut short by a crash still marks the folder. Markers hold a line of text
/// for whoever finds them and are never rewritten.</summary>
public sealed class OwnedFolder
{
    /// <summary>The first line Distill writes into a run directory's <c>config.resolved.conf</c> (the mark of a run
    /// directory written before <c>.distill-run</c> existed).</summary>
    public const string ResolvedConfigFile = "config.resolved.conf";
    public const string ResolvedConfigTitle = "Resolved configuration of run ";

    public static readonly OwnedFolder Run = new("run directory", "the run directory", ".distill-run",
        $"no .distill-run or {ResolvedConfigFile} written by Distill", IsEarlierRun);

    public static readonly OwnedFolder Dataset = new("Shapes dataset", "the Shapes dataset folder", ".distill-dataset",
        $"no {DatasetManifest.FileName} or .distill-dataset written by Distill", IsEarlierDataset);

    public static readonly OwnedFolder Cache = new("teacher-output cache", "the teacher-output cache folder", ".distill-cache",
        $"no .distill-cache or <teacher>/<stage>/<key>/{CacheManifest.FileName} written by Distill", IsEarlierCache);

    public static readonly OwnedFolder Export = new("student export", "the student export folder", null,
        $"no {StudentExport.ReadmeFile} written by Distill", IsExport);

    /// <summary>Every marker file name: a folder that holds nothing else counts as empty.</summary>
    public static IReadOnlyList<string> MarkerNames { get; } = [Run.MarkerName!, Dataset.MarkerName!, Cache.MarkerName!];

    private readonly string _defaultName;
    private readonly string _missing;
    private readonly Func<string, bool> _signed;

    private OwnedFolder(string what, string defaultName, string? markerName, string missing, Func<string, bool> signed)
    {
        What = what;
        _defaultName = defaultName;
        MarkerName = markerName;
        _missing = missing;
        _signed = signed;
    }

    /// <summary>What the folder is, as messages name it ("Shapes dataset").</summary>
    public string What { get; }

    /// <summary>The marker file <see cref="Claim"/> writes; null for <see cref="Export"/>, whose README marks it.</summary>
    public string? MarkerName { get; }

    /// <summary>True when <paramref name="dir"/> carries this kind's marker or the sign of an earlier version.</summary>
    public bool IsMarked(string dir) =>
        Directory.Exists(dir) && (MarkerName is not null && File.Exists(Path.Combine(dir, MarkerName)) || _signed(dir));

    /// <summary>True when <paramref name="dir"/> is a folder holding nothing but Distill's marker files.</summary>
    public static bool IsEmpty(string dir) =>
        Directory.Exists(dir) && !Directory.EnumerateFileSystemEntries(dir).Any(e => !MarkerNames.Contains(Path.GetFileName(e)));

    /// <summary>Null when Distill may write into <paramref name="dir"/> (missing, empty or marked); else why not, naming
    /// the folder as <paramref name="name"/> (a setting such as <c>distill.data.dir</c>; default "the Shapes dataset folder"
    /// and the like) and its full path.</summary>
    public string? Refusal(string dir, string? name = null)
    {
        var full = Path.GetFullPath(dir);
        var label = $"{name ?? _defaultName} {full}";
        if (File.Exists(full)) return $"{label} is a file, not a folder: refusing to write there; give an empty or new folder";
        if (!Directory.Exists(full) || IsEmpty(full) || IsMarked(full)) return null;
        return $"{label} is not empty and is not a Distill {What} ({_missing}): refusing to write into it; give an empty or new folder";
    }

    /// <summary>Throws <see cref="FolderNotOwnedException"/> when <see cref="Refusal"/> refuses <paramref name="dir"/>;
    /// changes nothing.</summary>
    public void Require(string dir, string? name = null)
    {
        if (Refusal(dir, name) is { } why) throw new FolderNotOwnedException(Path.GetFullPath(dir), why);
    }

    /// <summary>Makes <paramref name="dir"/> Distill's: refused as <see cref="Require"/> says, else created (with its
    /// parents) and marked, unless it already is. Call it before writing anything into the folder.</summary>
    public void Claim(string dir, string? name = null)
    {
        Require(dir, name);
        var full = Path.GetFullPath(dir);
        Directory.CreateDirectory(full);
        if (MarkerName is null) return;
        var marker = Path.Combine(full, MarkerName);
        if (File.Exists(marker)) return;
        var text = Encoding.UTF8.GetBytes(
            $"Distill {What}. Distill writes only into folders it created: a new or empty folder, or one with this file.\n");
        try
        {
            using var stream = new FileStream(marker, FileMode.CreateNew, FileAccess.Write);
            stream.Write(text);
        }
        catch (IOException) when (File.Exists(marker))
        {
            // another process marked it first
        }
    }

    private static bool IsEarlierRun(string dir)
    {
        var config = Path.Combine(dir, ResolvedConfigFile);
        return File.Exists(config) && File.ReadLines(config).FirstOrDefault() is { } first &&
               first.StartsWith("# " + ResolvedConfigTitle, StringComparison.Ordinal);
    }

    private static bool IsEarlierDataset(string dir)
    {
        try
        {
            return ShapesDataset.TryReadManifest(dir) is not null;
        }
        catch (Exception e) when (e is InvalidDataException or IOException or System.Text.Json.JsonException or NotSupportedException)
        {
            return false;
        }
    }

    private static bool IsEarlierCache(string dir)
    {
        foreach (var teacher in Directory.EnumerateDirectories(dir))
        foreach (var stage in Directory.EnumerateDirectories(teacher))
        foreach (var key in Directory.EnumerateDirectories(stage))
        {
            try
            {
                if (CacheManifest.TryRead(key) is not null) return true;
            }
            catch (Exception e) when (e is InvalidDataException or IOException)
            {
                // not a manifest of Distill's: look further
            }
        }
        return false;
    }

    private static bool IsExport(string dir) =>
        StudentExport.Describe(dir) is { } first && first.StartsWith(StudentExport.ReadmeTitle, StringComparison.Ordinal);
}
