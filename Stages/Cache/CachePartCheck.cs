using System.Security.Cryptography;
using Distill.Stages.Arrow;

namespace Distill.Stages.Cache;

/// <summary>Checks of one part's bytes, generic over the batch contract: an Arrow IPC stream whose schema carries
/// <c>distill.schema</c> and, when present, the teacher fingerprint and tokenizer hash of the cache it belongs to.</summary>
public static class CachePartCheck
{
    /// <summary>What the bytes of a part hold.</summary>
    public sealed record Contents(string Schema, long Rows, string? TeacherFingerprint, string? TokenizerHash);

    /// <summary>Lowercase hex sha256.</summary>
    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary>Reads the schema metadata and counts the rows; throws <see cref="InvalidDataException"/> when the
    /// bytes are not an Arrow stream or carry no <c>distill.schema</c>.</summary>
    public static Contents Inspect(byte[] bytes)
    {
        var (schema, batches) = ArrowIpc.Read(bytes, "a cached teacher batch");
        try
        {
            var name = ArrowContract.Metadata(schema, ArrowContract.SchemaKey)
                ?? throw new InvalidDataException($"no '{ArrowContract.SchemaKey}' schema metadata");
            return new Contents(name, batches.Sum(b => (long)b.Length),
                ArrowContract.Metadata(schema, TeacherV2.FingerprintKey),
                ArrowContract.Metadata(schema, TeacherV2.TokenizerHashKey));
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    /// <summary>Why <paramref name="contents"/> cannot be a part of a cache of <paramref name="manifest"/>, or null.</summary>
    public static string? Mismatch(Contents contents, CacheManifest manifest)
    {
        if (manifest.Schema is not null && contents.Schema != manifest.Schema)
            return $"schema {contents.Schema}, the cache holds {manifest.Schema}";
        if (contents.TeacherFingerprint is not null && contents.TeacherFingerprint != manifest.TeacherFingerprint)
            return $"teacher fingerprint {contents.TeacherFingerprint}, the cache is for teacher {manifest.TeacherFingerprint}";
        if (contents.TokenizerHash is not null && contents.TokenizerHash != manifest.TokenizerHash)
            return $"tokenizer hash {contents.TokenizerHash}, the cache is for tokenizer {manifest.TokenizerHash}";
        return null;
    }

    /// <summary>Verifies a part file against its manifest entry: present, of the recorded size and sha256, an Arrow
    /// stream of the recorded schema and row count that belongs to the manifest's teacher and tokenizer. Returns
    /// the bytes, or null with <paramref name="problem"/> set.</summary>
    public static byte[]? Verify(string directory, CachePart part, CacheManifest manifest, out string? problem)
    {
        problem = null;
        var path = Path.Combine(directory, part.File);
        if (part.File != CacheManifest.PartFile(part.Shard))
        {
            problem = $"manifest names '{part.File}' for shard {part.Shard}, expected {CacheManifest.PartFile(part.Shard)}";
            return null;
        }
        byte[] bytes;
        try
        {
            if (!File.Exists(path))
            {
                problem = "file is missing";
                return null;
            }
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problem = $"cannot be read: {e.Message}";
            return null;
        }
        if (bytes.LongLength != part.Bytes)
        {
            problem = $"{bytes.LongLength} bytes, the manifest records {part.Bytes} (truncated or changed)";
            return null;
        }
        var sha = Sha256(bytes);
        if (sha != part.Sha256)
        {
            problem = $"sha256 {sha} differs from the manifest's {part.Sha256} (altered)";
            return null;
        }
        Contents contents;
        try
        {
            contents = Inspect(bytes);
        }
        catch (InvalidDataException e)
        {
            problem = $"not a readable Arrow batch: {e.Message}";
            return null;
        }
        if (contents.Schema != part.Schema)
        {
            problem = $"schema {contents.Schema}, the manifest records {part.Schema}";
            return null;
        }
        if (contents.Rows != part.Rows)
        {
            problem = $"{contents.Rows} rows, the manifest records {part.Rows}";
            return null;
        }
        problem = Mismatch(contents, manifest);
        return problem is null ? bytes : null;
    }
}
