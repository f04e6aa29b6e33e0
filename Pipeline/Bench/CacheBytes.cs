using Distill.Stages.Arrow;
using Distill.Stages.Cache;

namespace Distill.Pipeline.Bench;

/// <summary>Bytes of one stage's cached <c>teacher/v1</c> parts per distilled token (issue 5, item 7d).</summary>
/// <param name="Tokens">predicting positions (the tokens the logits are cached for; response tokens with the default scope).</param>
/// <param name="PartBytes">part files on disk.</param>
/// <param name="SampleBytes">the same rows written as <c>samples/v1</c> (image, tokens, masks): what a cache must hold
/// whatever form the logits take; <c>PartBytes - SampleBytes</c> is what the top-K logits cost.</param>
public sealed record CacheBytesRow(string Stage, int Parts, long Rows, long Tokens, long PartBytes, long SampleBytes, int TopK, int VocabSize)
{
    /// <summary>Whole part bytes per token.</summary>
    public double BytesPerToken => (double)PartBytes / Tokens;

    /// <summary>Bytes of the top-K columns (and their Arrow framing) per token.</summary>
    public double LogitBytesPerToken => (double)(PartBytes - SampleBytes) / Tokens;

    /// <summary>The top-K columns' payload per token: K int32 ids + K float16 log-probs + one float32 tail.</summary>
    public int TopKPayloadBytesPerToken => 6 * TopK + 4;

    /// <summary>Dense float32 logits per token: vocab_size * 4.</summary>
    public long DenseBytesPerToken => 4L * VocabSize;

    /// <summary>Top-K logit bytes / dense float32 logit bytes, per token.</summary>
    public double LogitRatio => LogitBytesPerToken / DenseBytesPerToken;

    /// <summary>The whole part / the same part with dense float32 logits instead of top-K.</summary>
    public double PartRatio => PartBytes / (SampleBytes + (double)DenseBytesPerToken * Tokens);
}

/// <summary>Measures <see cref="CacheBytesRow"/>s from a cache root: every complete stage cache of <c>teacher/v1</c>
/// parts (other schemas carry no logits and are left out).</summary>
public static class CacheBytes
{
    public static IReadOnlyList<CacheBytesRow> Measure(string cacheRoot)
    {
        var rows = new List<CacheBytesRow>();
        foreach (var entry in CacheInventory.List(cacheRoot))
        {
            if (entry.Manifest is not { Schema: TeacherV1.SchemaName } manifest || manifest.Parts.Count == 0) continue;
            rows.Add(Measure(entry.Directory, manifest));
        }
        return rows;
    }

    public static CacheBytesRow Measure(string directory, CacheManifest manifest)
    {
        long partBytes = 0, sampleBytes = 0, tokens = 0, rowCount = 0;
        int topK = 0, vocab = 0;
        foreach (var part in manifest.Parts.OrderBy(p => p.Shard))
        {
            var path = Path.Combine(directory, part.File);
            var bytes = File.ReadAllBytes(path);
            var (rows, meta) = TeacherV1.Read(bytes);
            if (rows.Count == 0) continue;
            partBytes += new FileInfo(path).Length;
            sampleBytes += SamplesV1.Write(rows.Select(r => r.Sample).ToList(), rows[0].Sample.Image.Length).LongLength;
            tokens += rows.Sum(r => (long)r.Positions);
            rowCount += rows.Count;
            (topK, vocab) = (meta.TopK, meta.VocabSize);
        }
        if (tokens == 0) throw new InvalidDataException($"cache {directory}: its parts hold no distilled token");
        return new CacheBytesRow(manifest.Stage, manifest.Parts.Count, rowCount, tokens, partBytes, sampleBytes, topK, vocab);
    }
}
