using Distill.Stages.Arrow;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class ArrowBatchSplitterTests
{
    private const int ImageBytes = 48;
    private static readonly TeacherBatchMeta Meta = new("teacher-abc", 4, 500, "tokhash", "response");

    /// <summary>Row i: i+3 input ids, every one a response position, so topk lists are (i+3)*4 long.</summary>
    private static TeacherRow Row(int i)
    {
        var n = i % 7 + 3;
        var sample = new SampleRow($"train_{i:D5}_00", Enumerable.Range(0, ImageBytes).Select(b => (byte)(b + i)).ToArray(),
            Enumerable.Range(i, n).ToArray(), Enumerable.Repeat(true, n).ToArray(), i % 2 == 0 ? "colour" : "count",
            i % 5 == 0 ? null : $"answer {i}");
        return new TeacherRow(sample, Enumerable.Range(0, n * 4).Select(k => (k * 7 + i) % 500).ToArray(),
            Enumerable.Range(0, n * 4).Select(k => -0.25f * k).ToArray(),
            Enumerable.Range(0, n).Select(k => -10f - k).ToArray());
    }

    private static readonly TeacherRow[] Rows = Enumerable.Range(0, 300).Select(Row).ToArray();
    private static readonly RowImages Images = new(Rows.Select(r => r.Sample), ImageBytes);

    [Fact]
    public void A_batch_within_the_limit_is_sent_as_it_is()
    {
        var bytes = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default);
        var parts = ArrowBatchSplitter.Split(bytes, bytes.Length);
        Assert.Same(bytes, Assert.Single(parts));
        Assert.Same(bytes, ArrowBatchSplitter.Join(parts));
    }

    [Fact]
    public void An_oversized_teacher_batch_is_split_into_parts_within_the_limit_and_joins_back_to_every_row()
    {
        var bytes = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default);
        var max = bytes.Length / 4;
        var parts = ArrowBatchSplitter.Split(bytes, max);

        // zstd: a part compresses less well than the whole stream, so a cut a quarter of the rows long can come out
        // above the limit and be halved once more.
        Assert.InRange(parts.Count, 4, 16);
        Assert.All(parts, p => Assert.InRange(p.Length, 1, max));
        // Every part is a valid teacher/v2 batch with the metadata; rows are consecutive and in order.
        var partRows = parts.Select(p => TeacherV2.Read(p, Images)).ToList();
        Assert.All(partRows, r => Assert.Equal(Meta, r.Meta));
        Assert.Equal(Rows.Select(r => r.Sample.SampleId), partRows.SelectMany(r => r.Rows).Select(r => r.Sample.SampleId));

        // The parts and the joined stream keep the batch's zstd body compression: a reader without codecs refuses them.
        var joinedBytes = ArrowBatchSplitter.Join(parts);
        foreach (var compressed in parts.Append(joinedBytes))
        {
            using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new MemoryStream(compressed));
            Assert.ThrowsAny<Exception>(() => reader.ReadNextRecordBatch());
        }
        var (joined, meta) = TeacherV2.Read(joinedBytes, Images);
        Assert.Equal(Meta, meta);
        Assert.Equal(Rows.Length, joined.Count);
        for (var i = 0; i < Rows.Length; i++) AssertSameRow(Rows[i], joined[i]);
    }

    [Fact]
    public void Samples_batches_split_and_join_too()
    {
        var samples = Rows.Select(r => r.Sample).ToArray();
        var bytes = SamplesV1.Write(samples, ImageBytes);
        var parts = ArrowBatchSplitter.Split(bytes, bytes.Length / 3);
        Assert.True(parts.Count >= 3, $"{parts.Count} parts");
        var back = SamplesV1.Read(ArrowBatchSplitter.Join(parts));
        Assert.Equal(samples.Select(s => (s.SampleId, s.Answer, s.Task)), back.Select(s => (s.SampleId, s.Answer, s.Task)));
        Assert.Equal(samples[17].Image, back[17].Image);
        Assert.Equal(samples[299].InputIds, back[299].InputIds);
    }

    [Fact]
    public void A_single_row_larger_than_the_limit_is_an_error_naming_its_sample()
    {
        var big = new SampleRow("train_00042_01", new byte[ImageBytes], Enumerable.Range(0, 40_000).ToArray(),
            new bool[40_000], "caption", "a big one");
        var rows = new[] { Rows[0].Sample, big, Rows[1].Sample };
        var bytes = SamplesV1.Write(rows, ImageBytes);

        var e = Assert.Throws<OversizedRowException>(() => ArrowBatchSplitter.Split(bytes, 64 * 1024));
        Assert.Equal("train_00042_01", e.SampleId);
        Assert.Equal(64 * 1024, e.MaxBytes);
        Assert.True(e.RowBytes > 40_000 * 4, $"row of {e.RowBytes} bytes");
        Assert.Contains("samples/v1: sample 'train_00042_01'", e.Message);
        Assert.Contains("distill.transport.max-batch-bytes", e.Message);
    }

    [Fact]
    public void Parts_of_different_batches_do_not_join()
    {
        var teacher = TeacherV2.Write(Rows[..2], Meta, ImageBytes, TeacherEncoding.Default);
        var other = TeacherV2.Write(Rows[2..4], Meta with { TopK = 4, TeacherFingerprint = "another" }, ImageBytes, TeacherEncoding.Default);
        var samples = SamplesV1.Write([Rows[5].Sample], ImageBytes);

        Assert.Contains("not of one batch", Assert.Throws<InvalidDataException>(() => ArrowBatchSplitter.Join([teacher, other])).Message);
        Assert.Contains("not of one batch", Assert.Throws<InvalidDataException>(() => ArrowBatchSplitter.Join([teacher, samples])).Message);
        Assert.Contains("part 2 of 2", Assert.Throws<InvalidDataException>(() => ArrowBatchSplitter.Join([teacher, [1, 2, 3]])).Message);
    }

    private static void AssertSameRow(TeacherRow expected, TeacherRow actual)
    {
        Assert.Equal(expected.Sample.SampleId, actual.Sample.SampleId);
        Assert.Equal(expected.Sample.Image, actual.Sample.Image);
        Assert.Equal(expected.Sample.InputIds, actual.Sample.InputIds);
        Assert.Equal(expected.Sample.LabelsMask, actual.Sample.LabelsMask);
        Assert.Equal(expected.Sample.Task, actual.Sample.Task);
        Assert.Equal(expected.Sample.Answer, actual.Sample.Answer);
        Assert.Equal(expected.TopkIds, actual.TopkIds);
        Assert.Equal(expected.TopkLogprobs, actual.TopkLogprobs);
        Assert.Equal(expected.TailLogprob, actual.TailLogprob);
    }
}
