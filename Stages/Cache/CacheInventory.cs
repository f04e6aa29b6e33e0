namespace Distill.Stages.Cache;

/// <summary>One stage cache found under a cache root: its directory and manifest (null with
/// <see cref="Error"/> when the manifest cannot be read).</summary>
public sealed record CacheEntry(string Directory, CacheManifest? Manifest, string? Error)
{
    /// <summary>The layout folders: teacher fingerprint, stage, key.</summary>
    public (string Teacher, string Stage, string Key) Layout =>
        (Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(Directory))!), Path.GetFileName(Path.GetDirectoryName(Directory))!,
            Path.GetFileName(Directory));
}

/// <summary>A problem that makes a cache entry unusable: a bad part (its path) or a bad manifest.</summary>
public sealed record CacheProblem(string Path, string Problem);

/// <summary>The result of verifying one entry: problems (any = bad) and notes (stray files, harmless: the next run
/// deletes them).</summary>
public sealed record CacheVerification(CacheEntry Entry, IReadOnlyList<CacheProblem> Problems, IReadOnlyList<string> Notes)
{
    public bool Ok => Problems.Count == 0;
}

/// <summary>Every stage cache under a cache root (<c>&lt;root&gt;/&lt;teacher&gt;/&lt;stage&gt;/&lt;key&gt;/manifest.json</c>), for
/// <c>distill cache ls</c> and <c>distill cache verify</c>. Reads only.</summary>
public static class CacheInventory
{
    /// <summary>The entries under <paramref name="root"/>, ordered by teacher, stage and key. A key folder without
    /// a manifest is listed with an error.</summary>
    public static IReadOnlyList<CacheEntry> List(string root)
    {
        var full = Path.GetFullPath(root);
        if (!System.IO.Directory.Exists(full)) throw new DirectoryNotFoundException($"cache directory {full} does not exist");
        var entries = new List<CacheEntry>();
        foreach (var teacher in System.IO.Directory.EnumerateDirectories(full))
        foreach (var stage in System.IO.Directory.EnumerateDirectories(teacher))
        foreach (var key in System.IO.Directory.EnumerateDirectories(stage))
        {
            try
            {
                var manifest = CacheManifest.TryRead(key);
                entries.Add(new CacheEntry(key, manifest, manifest is null ? $"{Path.Combine(key, CacheManifest.FileName)} is missing" : null));
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                entries.Add(new CacheEntry(key, null, e.Message));
            }
        }
        return entries.OrderBy(e => e.Directory, StringComparer.Ordinal).ToList();
    }

    /// <summary>Checks the manifest against its place in the layout and every part against the manifest
    /// (size, sha256, Arrow schema, rows, teacher and tokenizer metadata).</summary>
    public static CacheVerification Verify(CacheEntry entry)
    {
        var manifestPath = Path.Combine(entry.Directory, CacheManifest.FileName);
        if (entry.Manifest is not { } m) return new CacheVerification(entry, [new CacheProblem(manifestPath, entry.Error ?? "unreadable")], []);

        var problems = new List<CacheProblem>();
        var (teacher, stage, key) = entry.Layout;
        var expectedKey = new CacheKey(m.TeacherFingerprint, m.TokenizerHash, m.Schema, m.DataFingerprint, m.ConfigHash).Folder;
        if (teacher != m.TeacherFingerprint || stage != m.Stage || key != expectedKey)
            problems.Add(new CacheProblem(manifestPath,
                $"records teacher {m.TeacherFingerprint}, stage {m.Stage}, key {expectedKey} but lies in {teacher}/{stage}/{key}"));
        if (m.Complete != (m.Parts.Count == m.ShardCount && m.Parts.Select(p => p.Shard).Distinct().Count() == m.ShardCount))
            problems.Add(new CacheProblem(manifestPath, $"complete = {m.Complete.ToString().ToLowerInvariant()} but it lists {m.Parts.Count} of {m.ShardCount} parts"));
        foreach (var part in m.Parts)
        {
            if (CachePartCheck.Verify(entry.Directory, part, m, out var problem) is null)
                problems.Add(new CacheProblem(Path.Combine(entry.Directory, part.File), $"shard {part.Shard}: {problem}"));
        }

        var listed = m.Parts.Select(p => p.File).ToHashSet(StringComparer.Ordinal);
        var notes = System.IO.Directory.EnumerateFiles(entry.Directory)
            .Select(Path.GetFileName)
            .Where(n => StageCache.IsTempFile(n!) || StageCache.IsPartFile(n!) && !listed.Contains(n!))
            .Select(n => $"{Path.Combine(entry.Directory, n!)}: {(StageCache.IsTempFile(n!) ? "unfinished temp file" : "part not in the manifest")} (deleted by the next run)")
            .Order(StringComparer.Ordinal)
            .ToList();
        return new CacheVerification(entry, problems, notes);
    }
}
