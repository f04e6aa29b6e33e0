using Distill.Stages.Arrow;

namespace Distill.Actors.Tests;

/// <summary>Small real <c>teacher/v1</c> batches for the cache tests: one row whose sample id names the shard.</summary>
public static class TestBatches
{
    public static readonly TeacherBatchMeta Meta = new("teacher-a", TopK: 1, VocabSize: 1000, TokenizerHash: "tok-a", Scope: "response");

    public static byte[] Teacher(int shard, TeacherBatchMeta? meta = null)
    {
        var sample = new SampleRow($"shard-{shard}", [1, 2, 3], [1, 2], [false, true], "colour", "red");
        var row = new TeacherRow(sample, [shard % 1000], [(Half)(-0.25f)], [-1.5f]);
        return TeacherV1.Write([row], meta ?? Meta, imageBytes: 3);
    }

    /// <summary>The shard a batch of <see cref="Teacher"/> was made for.</summary>
    public static int ShardOf(byte[] batch)
    {
        var (rows, _) = TeacherV1.Read(batch);
        var id = rows.Single().Sample.SampleId;
        return id.StartsWith("shard-", StringComparison.Ordinal) ? int.Parse(id[6..]) : -1;
    }
}
