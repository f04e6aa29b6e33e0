using System.Security.Cryptography;
using System.Text.Json;

namespace Distill.Stages.Training;

/// <summary>Pretrained teachers kept across runs (<c>distill.teacher.store</c>, default <c>~/.cache/distill/teachers</c>):
/// one folder per teacher fingerprint (data, tokenizer, config and training options), holding the teacher's model
/// directory and <see cref="ManifestFile"/> with every file's sha256. A folder is assembled under a temporary name and
/// renamed into place, so it is complete or absent; a folder whose files no longer match their hashes is ignored
/// (and said so), never used. Safe for concurrent runs: the first rename wins, a later one is dropped.</summary>
public sealed class TeacherStore(string root)
{
    public const string ManifestFile = "distill-store.json";

    public string Root { get; } = Path.GetFullPath(root);

    public string EntryOf(string fingerprint) => Path.Combine(Root, fingerprint);

    /// <summary>The stored teacher of <paramref name="fingerprint"/>, verified, or null (with the reason in
    /// <paramref name="problem"/> when an entry exists but cannot be trusted).</summary>
    public string? TryGet(string fingerprint, out string? problem)
    {
        problem = null;
        var entry = EntryOf(fingerprint);
        var manifest = Path.Combine(entry, ManifestFile);
        if (!File.Exists(manifest)) return null;
        Dictionary<string, string>? files;
        try { files = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllBytes(manifest)); }
        catch (JsonException e) { problem = $"{manifest}: unreadable ({e.Message})"; return null; }
        if (files is null || files.Count == 0) { problem = $"{manifest}: lists no files"; return null; }
        foreach (var (name, hash) in files)
        {
            var path = Path.Combine(entry, name);
            if (!File.Exists(path)) { problem = $"{path} is missing"; return null; }
            if (Sha256(path) != hash) { problem = $"{path} does not match its sha256 in {ManifestFile}"; return null; }
        }
        return entry;
    }

    /// <summary>Stores the finished teacher directory <paramref name="teacherDir"/> (its files, flat) under
    /// <paramref name="fingerprint"/>, unless a verified entry is there already.</summary>
    public void Put(string fingerprint, string teacherDir)
    {
        if (TryGet(fingerprint, out _) is not null) return;
        Directory.CreateDirectory(Root);
        var temp = Path.Combine(Root, $".tmp-{fingerprint}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            var files = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var file in Directory.GetFiles(teacherDir))
            {
                var name = Path.GetFileName(file);
                File.Copy(file, Path.Combine(temp, name));
                files[name] = Sha256(file);
            }
            File.WriteAllText(Path.Combine(temp, ManifestFile), JsonSerializer.Serialize(files, new JsonSerializerOptions { WriteIndented = true }));
            var entry = EntryOf(fingerprint);
            if (Directory.Exists(entry)) Directory.Delete(entry, recursive: true); // an entry that failed verification
            Directory.Move(temp, entry);
        }
        catch (IOException) when (Directory.Exists(EntryOf(fingerprint)))
        {
            // another run stored it first
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Copies a stored teacher's model files (not the manifest) into <paramref name="targetDir"/>, the file
    /// named <paramref name="last"/> after all the others.</summary>
    public static void CopyOut(string entry, string targetDir, string? last = null)
    {
        Directory.CreateDirectory(targetDir);
        foreach (var file in Directory.GetFiles(entry).Where(f => Path.GetFileName(f) != ManifestFile).OrderBy(f => Path.GetFileName(f) == last))
            File.Copy(file, Path.Combine(targetDir, Path.GetFileName(file)), overwrite: true);
    }

    private static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(stream)).ToLowerInvariant();
    }
}
