using Distill.Stages.Arrow;
using Distill.Stages.Cache;

namespace Distill.Pipeline.Bench;

/// <summary>Bytes of one stage's cached <c>teacher/v2</c> parts per distilled token (issue 5, item 7d; issue 15, items 2-3).</summary>
/// <param name="Tokens">predicting positions (the tokens the logits are cached for; response tokens with the default scope).</param>
/// <param name="PartBytes">part files on disk.</param>
/// <param name="SampleBytes">the same rows written as <c>samples/v1</c> (image, tokens, masks): the dataset's own bytes,
/// which a <c>teacher/v1</c> part stored again and a <c>teacher/v2</c> part names by sample id and image hash.</param>
public sealed record CacheBytesRow(string Stage, int Parts, long Rows, long Tokens, long PartBytes, long SampleBytes, int TopK, int VocabSize)
{
    /// <summary>Whole part bytes per token.</summary>
    public double BytesPerToken => (double)PartBytes / Tokens;

    /// <summary>The rows' <c>samples/v1</c> bytes per token: what each token cost in a part that held the samples again.</summary>
    public double SampleBytesPerToken => (double)SampleBytes / Tokens;

    /// <summary>Dense float32 logits per token: vocab_size * 4.</summary>
    public long DenseBytesPerToken => 4L * VocabSize;

    /// <summary>The whole part / the dense float32 logits of its tokens.</summary>
    public double LogitRatio => BytesPerToken / DenseBytesPerToken;

    /// <summary>The whole part / a part holding the samples and their dense float32 logits.</summary>
    public double PartRatio => PartBytes / (SampleBytes + (double)DenseBytesPerToken * Tokens);
}

/// <summary>Measures <see cref="CacheBytesRow"/>s from a cache root: every complete stage cache of <c>teacher/v2</c>
/// parts (other schemas carry no logits and are left out).</summary>
public static class CacheBytes
{
    /// <param name="images">the data the cache was made from (each part's rows are read with their images).</param>
    public static IReadOnlyList<CacheBytesRow> Measure(string cacheRoot, ISampleImages images)
    {
        var rows = new List<CacheBytesRow>();
        foreach (var entry in CacheInventory.List(cacheRoot))
        {
            if (entry.Manifest is not { Schema: TeacherV2.SchemaName } manifest || manifest.Parts.Count == 0) continue;
            rows.Add(Measure(entry.Directory, manifest, images));
        }
        return rows;
    }

    public static CacheBytesRow Measure(string directory, CacheManifest manifest, ISampleImages images)
    {
        long partBytes = 0, sampleBytes = 0, tokens = 0, rowCount = 0;
        int topK = 0, vocab = 0;
        foreach (var part in manifest.Parts.OrderBy(p => p.Shard))
        {
            var path = Path.Combine(directory, part.File);
            var bytes = File.ReadAllBytes(path);
            var (rows, meta) = TeacherV2.Read(bytes, images);
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
