using Distill.Stages.Arrow;

namespace Distill.Actors.Tests;

/// <summary>Small real <c>teacher/v2</c> batches for the cache tests: one row whose sample id names the shard.</summary>
public static class TestBatches
{
    public static readonly TeacherBatchMeta Meta = new("teacher-a", TopK: 1, VocabSize: 1000, TokenizerHash: "tok-a", Scope: "response");

    private static readonly byte[] ShardImage = [1, 2, 3];

    public static byte[] Teacher(int shard, TeacherBatchMeta? meta = null)
    {
        var sample = new SampleRow($"shard-{shard}", ShardImage, [1, 2], [false, true], "colour", "red");
        var row = new TeacherRow(sample, [shard % 1000], [-0.25f], [-1.5f]);
        return TeacherV2.Write([row], meta ?? Meta, imageBytes: 3, TeacherEncoding.Default);
    }

    /// <summary>The shard a batch of <see cref="Teacher"/> was made for.</summary>
    public static int ShardOf(byte[] batch)
    {
        var (rows, _) = TeacherV2.Read(batch, ShardImages.Instance);
        var id = rows.Single().Sample.SampleId;
        return id.StartsWith("shard-", StringComparison.Ordinal) ? int.Parse(id[6..]) : -1;
    }

    /// <summary>The data of <see cref="Teacher"/>'s batches: every shard's sample has the same image.</summary>
    private sealed class ShardImages : ISampleImages
    {
        public static readonly ShardImages Instance = new();
        public int ImageBytes => ShardImage.Length;
        public byte[]? Image(string sampleId) => sampleId.StartsWith("shard-", StringComparison.Ordinal) ? ShardImage : null;
        public string Describe => "the test batches' shards";
    }
}
