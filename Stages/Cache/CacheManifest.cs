using System.Text.Json;
using System.Text.Json.Serialization;
using Distill.Models.IO;

namespace Distill.Stages.Cache;

/// <summary>One cached part: the teacher batch of one shard.</summary>
/// <param name="Shard">shard id (0..ShardCount-1).</param>
/// <param name="File">file name in the cache directory, <c>part-NNNNN.arrow</c>.</param>
/// <param name="Rows">rows (samples) in the batch.</param>
/// <param name="Bytes">file size.</param>
/// <param name="Sha256">lowercase hex sha256 of the file.</param>
/// <param name="Schema">the batch's <c>distill.schema</c>.</param>
/// <param name="InputSha256">sha256 of the shard's input (the <c>samples/v1</c> or candidate batch the teacher
/// turned into this part); null when not recorded. A part is used only for the same input.</param>
public sealed record CachePart(int Shard, string File, long Rows, long Bytes, string Sha256, string Schema, string? InputSha256 = null);

/// <summary><c>manifest.json</c> of one stage's cache directory: whose teacher batches these are and every part
/// written so far. <see cref="Complete"/> is true once every shard has a part. Written atomically after each part,
/// so a crash leaves the previous manifest; a part file the manifest does not list is never used.</summary>
public sealed record CacheManifest(
    string Format,
    string Stage,
    string TeacherFingerprint,
    string TokenizerHash,
    string? Schema,
    string DataFingerprint,
    string ConfigHash,
    int ShardCount,
    bool Complete,
    IReadOnlyList<CachePart> Parts)
{
    public const string FormatVersion = "distill-cache/v1";
    public const string FileName = "manifest.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>The part file name of <paramref name="shard"/>.</summary>
    public static string PartFile(int shard) => $"part-{shard:D5}.arrow";

    /// <summary>An empty manifest for <paramref name="key"/>.</summary>
    public static CacheManifest New(string stage, CacheKey key, int shardCount) =>
        new(FormatVersion, stage, key.TeacherFingerprint, key.TokenizerHash, key.Schema, key.DataFingerprint, key.ConfigHash,
            shardCount, shardCount == 0, []);

    public long Rows => Parts.Sum(p => p.Rows);
    public long Bytes => Parts.Sum(p => p.Bytes);

    /// <summary>The manifest in <paramref name="directory"/>, or null when there is none. A manifest that cannot be
    /// parsed throws <see cref="InvalidDataException"/> naming the file.</summary>
    public static CacheManifest? TryRead(string directory)
    {
        var path = Path.Combine(directory, FileName);
        if (!System.IO.File.Exists(path)) return null;
        CacheManifest? manifest;
        try
        {
            manifest = JsonSerializer.Deserialize<CacheManifest>(System.IO.File.ReadAllBytes(path), Json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a cache manifest: {e.Message}", e);
        }
        if (manifest is null || manifest.Format != FormatVersion)
            throw new InvalidDataException($"{path}: format '{manifest?.Format}' is not {FormatVersion}");
        if (manifest.Parts is null || manifest.Stage is null || manifest.TeacherFingerprint is null || manifest.TokenizerHash is null)
            throw new InvalidDataException($"{path}: lacks stage, teacher_fingerprint, tokenizer_hash or parts");
        return manifest;
    }

    /// <summary>Writes the manifest to <paramref name="directory"/> through a temp file and a rename.</summary>
    public void Write(string directory) =>
        AtomicFile.WriteAllBytes(Path.Combine(directory, FileName), JsonSerializer.SerializeToUtf8Bytes(this, Json));

    /// <summary>A copy with <paramref name="part"/> in place of any earlier part of its shard, parts in shard order;
    /// complete when every shard has a part.</summary>
    public CacheManifest WithPart(CachePart part)
    {
        var parts = Parts.Where(p => p.Shard != part.Shard).Append(part).OrderBy(p => p.Shard).ToList();
        return this with { Parts = parts, Complete = parts.Count == ShardCount, Schema = Schema ?? part.Schema };
    }

    /// <summary>A copy without the part of <paramref name="shard"/> (no longer complete).</summary>
    public CacheManifest WithoutPart(int shard) =>
        this with { Parts = Parts.Where(p => p.Shard != shard).ToList(), Complete = false };

    /// <summary>Why this manifest does not belong to <paramref name="key"/> and <paramref name="stage"/>, or null
    /// when it does. A manifest without a schema accepts any expected one; a key without a schema accepts any.</summary>
    public string? Mismatch(string stage, CacheKey key)
    {
        var problems = new List<string>();
        if (Stage != stage) problems.Add($"stage '{Stage}', expected '{stage}'");
        if (TeacherFingerprint != key.TeacherFingerprint)
            problems.Add($"teacher fingerprint {TeacherFingerprint}, expected {key.TeacherFingerprint} (another teacher)");
        if (TokenizerHash != key.TokenizerHash)
            problems.Add($"tokenizer hash {TokenizerHash}, expected {key.TokenizerHash} (another tokenizer)");
        if (Schema is not null && key.Schema is not null && Schema != key.Schema)
            problems.Add($"schema {Schema}, expected {key.Schema}");
        if (DataFingerprint != key.DataFingerprint)
            problems.Add($"data fingerprint {DataFingerprint}, expected {key.DataFingerprint} (another dataset)");
        if (ConfigHash != key.ConfigHash)
            problems.Add($"config hash {ConfigHash}, expected {key.ConfigHash} (other teacher-side settings)");
        return problems.Count == 0 ? null : string.Join("; ", problems);
    }
}
