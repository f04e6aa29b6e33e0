using Distill.Models.IO;
using Distill.Stages.Workspace;

namespace Distill.Stages.Cache;

/// <summary>The teacher-output cache of one stage (DESIGN 8): one Arrow part per shard in
/// <see cref="CacheKey.DirectoryUnder"/> plus <c>manifest.json</c>. Parts are written to a temp name, flushed to disk
/// and renamed; the manifest is rewritten the same way after each part, so a crash never leaves a listed part half
/// written. Every part is verified (size, sha256, Arrow schema and metadata) when the cache is opened and again when
/// it is read. A bad part is reported and, unless replaying, deleted so the teacher computes it again; it is never
/// used. Not thread-safe: one owner (the stage's cache actor) calls it.</summary>
public sealed class StageCache
{
    private readonly List<string> _repairs = new();
    private CacheManifest _manifest;

    private StageCache(string directory, string stage, CacheMode mode, CacheManifest manifest)
    {
        Directory = directory;
        Stage = stage;
        Mode = mode;
        _manifest = manifest;
    }

    public string Directory { get; }
    public string Stage { get; }
    public CacheMode Mode { get; }
    public CacheManifest Manifest => _manifest;

    /// <summary>Shards with a verified part.</summary>
    public IReadOnlyList<int> Available => _manifest.Parts.Select(p => p.Shard).ToList();

    /// <summary>True once every shard has a part.</summary>
    public bool Complete => _manifest.Complete;

    /// <summary>What opening found and fixed: bad parts removed, unlisted part files and unfinished temp files deleted.</summary>
    public IReadOnlyList<string> Repairs => _repairs;

    /// <summary>Parts found bad (at open or read) and removed.</summary>
    public int PartsRemoved { get; private set; }
    public int PartsWritten { get; private set; }
    public int PartsRead { get; private set; }

    /// <summary>Opens (or, when writing, creates) the cache of <paramref name="stage"/> under <paramref name="root"/>.
    /// <list type="bullet">
    /// <item><see cref="CacheMode.Replay"/>: the manifest must exist, belong to <paramref name="key"/>, and list a
    /// verified part for every shard; otherwise <see cref="CacheMismatchException"/> or <see cref="CachePartException"/>.
    /// Nothing is changed on disk.</item>
    /// <item><see cref="CacheMode.Reuse"/>: a manifest of another key is refused (<see cref="CacheMismatchException"/>);
    /// bad parts, part files the manifest does not list and unfinished temp files are deleted.</item>
    /// <item><see cref="CacheMode.Write"/>: whatever is in the directory is deleted; the cache starts empty.</item>
    /// </list>
    /// Reuse and write first claim <paramref name="root"/> (<see cref="OwnedFolder.Cache"/>): a folder that is not empty
    /// and not a cache of Distill's is refused with <see cref="FolderNotOwnedException"/> before anything is written.</summary>
    public static StageCache Open(string root, string stage, CacheKey key, int shardCount, CacheMode mode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shardCount);
        if (mode == CacheMode.Off) throw new ArgumentException("cache mode 'off' opens no cache", nameof(mode));
        var directory = key.DirectoryUnder(root, stage);
        if (mode != CacheMode.Replay) OwnedFolder.Cache.Claim(root);
        return mode switch
        {
            CacheMode.Replay => OpenForReplay(root, directory, stage, key, shardCount),
            CacheMode.Write => OpenEmpty(directory, stage, key, shardCount),
            _ => OpenForReuse(directory, stage, key, shardCount),
        };
    }

    private static StageCache OpenForReplay(string root, string directory, string stage, CacheKey key, int shardCount)
    {
        var manifest = CacheManifest.TryRead(directory)
            ?? throw new CacheMismatchException(NoCacheMessage(root, directory, stage, key));
        RequireSameKey(directory, manifest, stage, key, shardCount);
        var cache = new StageCache(directory, stage, CacheMode.Replay, manifest);
        foreach (var part in manifest.Parts)
        {
            if (CachePartCheck.Verify(directory, part, manifest, out var problem) is null)
                throw new CachePartException(Path.Combine(directory, part.File), part.Shard, problem!, removed: false);
        }
        var missing = Enumerable.Range(0, shardCount).Except(manifest.Parts.Select(p => p.Shard)).ToList();
        if (missing.Count > 0)
            throw new CacheMismatchException(
                $"cache {directory} has no part for shard(s) {Ids(missing)} ({manifest.Parts.Count} of {shardCount} present): " +
                "replay needs every shard; run the stage with distill.cache.mode = reuse to compute the missing ones");
        return cache;
    }

    private static StageCache OpenEmpty(string directory, string stage, CacheKey key, int shardCount)
    {
        System.IO.Directory.CreateDirectory(directory);
        var cache = new StageCache(directory, stage, CacheMode.Write, CacheManifest.New(stage, key, shardCount));
        foreach (var file in System.IO.Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(file);
            if (name == CacheManifest.FileName || IsPartFile(name) || IsTempFile(name)) File.Delete(file);
        }
        cache._manifest.Write(directory);
        return cache;
    }

    private static StageCache OpenForReuse(string directory, string stage, CacheKey key, int shardCount)
    {
        System.IO.Directory.CreateDirectory(directory);
        var manifest = CacheManifest.TryRead(directory);
        if (manifest is null)
        {
            var fresh = new StageCache(directory, stage, CacheMode.Reuse, CacheManifest.New(stage, key, shardCount));
            fresh.DeleteStrayFiles();
            fresh._manifest.Write(directory);
            return fresh;
        }
        RequireSameKey(directory, manifest, stage, key, shardCount, reuse: true);
        var cache = new StageCache(directory, stage, CacheMode.Reuse, manifest);
        cache.DeleteStrayFiles();
        var changed = false;
        foreach (var part in manifest.Parts)
        {
            if (CachePartCheck.Verify(directory, part, manifest, out var problem) is not null) continue;
            cache.Remove(part, problem!);
            changed = true;
        }
        // The manifest of a key may omit the schema (a key that declares none); adopt the key's when it has one.
        if (cache._manifest.Schema is null && key.Schema is not null)
        {
            cache._manifest = cache._manifest with { Schema = key.Schema };
            changed = true;
        }
        if (changed) cache._manifest.Write(directory);
        return cache;
    }

    /// <summary>The verified bytes of <paramref name="shard"/>'s part. A bad part, or one computed from another
    /// input than <paramref name="inputSha256"/> (when both are known), throws <see cref="CachePartException"/>;
    /// unless replaying it is deleted first (so the teacher computes it again).</summary>
    public byte[] Read(int shard, string? inputSha256 = null)
    {
        var part = _manifest.Parts.FirstOrDefault(p => p.Shard == shard)
            ?? throw new CachePartException(Path.Combine(Directory, CacheManifest.PartFile(shard)), shard, "not in the manifest", removed: false);
        var bytes = CachePartCheck.Verify(Directory, part, _manifest, out var problem);
        if (bytes is not null && inputSha256 is not null && part.InputSha256 is not null && part.InputSha256 != inputSha256)
        {
            bytes = null;
            problem = $"computed from another input (sha256 {part.InputSha256}); the shard's input now has sha256 {inputSha256}";
        }
        if (bytes is null)
        {
            var removed = Mode != CacheMode.Replay;
            if (removed)
            {
                Remove(part, problem!);
                _manifest.Write(Directory);
            }
            throw new CachePartException(Path.Combine(Directory, part.File), shard, problem!, removed);
        }
        PartsRead++;
        return bytes;
    }

    /// <summary>Writes <paramref name="shard"/>'s teacher batch as its part (replacing any earlier one) and then the
    /// manifest, with the sha256 of the input it was computed from (<paramref name="inputSha256"/>, when known).
    /// Throws <see cref="InvalidDataException"/> when the bytes are not a batch of this cache's schema, teacher and
    /// tokenizer.</summary>
    public void Write(int shard, byte[] batch, string? inputSha256 = null)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (Mode == CacheMode.Replay) throw new InvalidOperationException($"cache {Directory} is open for replay: nothing is written");
        if (shard < 0 || shard >= _manifest.ShardCount)
            throw new ArgumentOutOfRangeException(nameof(shard), shard, $"shard ids of stage '{Stage}' run from 0 to {_manifest.ShardCount - 1}");
        CachePartCheck.Contents contents;
        try
        {
            contents = CachePartCheck.Inspect(batch);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"shard {shard}: the teacher batch cannot be cached in {Directory}: {e.Message}", e);
        }
        if (CachePartCheck.Mismatch(contents, _manifest) is { } mismatch)
            throw new InvalidDataException($"shard {shard}: the teacher batch does not belong in cache {Directory}: {mismatch}");
        var file = CacheManifest.PartFile(shard);
        var listed = _manifest.WithPart(new CachePart(shard, file, contents.Rows, batch.LongLength, CachePartCheck.Sha256(batch),
            contents.Schema, inputSha256));
        try
        {
            AtomicFile.WriteAllBytes(Path.Combine(Directory, file), batch);
            listed.Write(Directory);
        }
        catch (IOException e)
        {
            // The part or the manifest is whole or absent (AtomicFile); a part the manifest does not list is never
            // used and is deleted when the cache is opened again.
            throw new IOException($"shard {shard}: writing its cache part {Path.Combine(Directory, file)} failed: {e.Message}", e);
        }
        _manifest = listed;
        PartsWritten++;
    }

    private void Remove(CachePart part, string problem)
    {
        var path = Path.Combine(Directory, part.File);
        try
        {
            if (File.Exists(path)) File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem += $" (and deleting it failed: {e.Message})";
        }
        _manifest = _manifest.WithoutPart(part.Shard);
        _repairs.Add($"{path} (shard {part.Shard}): {problem}; removed");
        PartsRemoved++;
    }

    /// <summary>Deletes unfinished temp files and part files the manifest does not list (written by a run that
    /// stopped before recording them).</summary>
    private void DeleteStrayFiles()
    {
        var listed = _manifest.Parts.Select(p => p.File).ToHashSet(StringComparer.Ordinal);
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory))
        {
            var name = Path.GetFileName(file);
            string? why = IsTempFile(name) ? "unfinished temp file" : IsPartFile(name) && !listed.Contains(name) ? "part not in the manifest" : null;
            if (why is null) continue;
            File.Delete(file);
            _repairs.Add($"{file}: {why}; deleted");
        }
    }

    private static void RequireSameKey(string directory, CacheManifest manifest, string stage, CacheKey key, int shardCount, bool reuse = false)
    {
        var path = Path.Combine(directory, CacheManifest.FileName);
        var hint = reuse ? "; delete that directory or set distill.cache.mode = write to compute it again" : "";
        if (manifest.Mismatch(stage, key) is { } mismatch)
            throw new CacheMismatchException($"{path} is refused: it records {mismatch}{hint}");
        if (manifest.ShardCount != shardCount)
            throw new CacheMismatchException($"{path} is refused: it records {manifest.ShardCount} shards, stage '{stage}' has {shardCount}{hint}");
    }

    /// <summary>"no cache here; the root holds this stage for teachers A, B" (so another teacher is named).</summary>
    private static string NoCacheMessage(string root, string directory, string stage, CacheKey key)
    {
        var message = $"no teacher-output cache of stage '{stage}' at {directory} (teacher {key.TeacherFingerprint}, key {key.Folder})";
        var full = Path.GetFullPath(root);
        if (!System.IO.Directory.Exists(full)) return $"{message}: the cache directory {full} does not exist";
        var others = System.IO.Directory.EnumerateDirectories(full)
            .SelectMany(t => System.IO.Directory.Exists(Path.Combine(t, stage))
                ? System.IO.Directory.EnumerateDirectories(Path.Combine(t, stage)).Select(k => $"teacher {Path.GetFileName(t)}, key {Path.GetFileName(k)}")
                : [])
            .Order(StringComparer.Ordinal)
            .ToList();
        return others.Count == 0
            ? $"{message}; {full} holds no cache of that stage"
            : $"{message}; {full} holds that stage only for: {string.Join("; ", others)} (another teacher or key: refused)";
    }

    internal static bool IsPartFile(string name) =>
        name.StartsWith("part-", StringComparison.Ordinal) && name.EndsWith(".arrow", StringComparison.Ordinal);

    internal static bool IsTempFile(string name) => AtomicFile.IsTempName(name);

    private static string Ids(IReadOnlyList<int> ids) =>
        ids.Count <= 12 ? string.Join(", ", ids) : string.Join(", ", ids.Take(12)) + $", ... ({ids.Count} in all)";
}
