using Distill.Stages.Arrow;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class ArrowRoundTripTests
{
    private static readonly SampleRow A = new("train_00000_00", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
        [1, 5, 4, 4, 13, 9, 6, 11, 2], [false, false, false, false, false, false, false, true, true], "colour", "red");
    private static readonly SampleRow B = new("train_00000_01", [255, 0, 128, 7, 7, 7, 0, 0, 0, 9, 9, 9],
        [1, 5, 4, 4, 6, 20, 21, 22, 2], [false, false, false, false, false, true, true, true, true], "caption", null);
    private static readonly SampleRow C = new("x", new byte[12], [], [], "count", "");

    private static readonly TeacherBatchMeta Meta = new("teacher-abc", 2, 30, "tokhash", "response");
    private static readonly RowImages Images = new([A, B, C], 12);
    private static readonly TeacherEncoding Plain = TeacherEncoding.Default with { Compression = IpcCompression.None };

    [Fact]
    public void Samples_round_trip_with_a_null_answer_and_lists_of_different_lengths()
    {
        var back = SamplesV1.Read(SamplesV1.Write([A, B, C], 12));
        Assert.Equal(3, back.Count);
        AssertSame(A, back[0]);
        AssertSame(B, back[1]);
        AssertSame(C, back[2]);
        Assert.Null(back[1].Answer);
        Assert.Equal("", back[2].Answer);
        Assert.Empty(SamplesV1.Read(SamplesV1.Write([], 12)));
    }

    [Fact]
    public void Samples_schema_carries_its_name_and_types()
    {
        var bytes = SamplesV1.Write([A], 12);
        Assert.Equal("samples/v1", ArrowContract.SchemaNameOf(bytes));
        var schema = SamplesV1.Schema(12);
        Assert.Equal(["sample_id", "image", "input_ids", "labels_mask", "task", "answer"], schema.FieldsList.Select(f => f.Name));
        Assert.Equal(12, ((Apache.Arrow.Types.FixedSizeBinaryType)schema.GetFieldByName("image").DataType).ByteWidth);
        Assert.True(schema.GetFieldByName("answer").IsNullable);
        Assert.False(schema.GetFieldByName("sample_id").IsNullable);
    }

    [Fact]
    public void Teacher_rows_and_metadata_round_trip()
    {
        var ta = new TeacherRow(A, [11, 2, 2, 11], [-0.125f, -2.5f, -0.0625f, -3.75f], [-4.5f, -6.25f]);
        var tb = new TeacherRow(B, [20, 0, 21, 3, 22, 4, 2, 5],
            [0f, -9.5f, -1f, -1.5f, -0.5f, -2f, -0.25f, -8f],
            [-12f, -3f, -2.5f, -7.125f]);
        var (rows, meta) = TeacherV2.Read(TeacherV2.Write([ta, tb], Meta, 12, TeacherEncoding.Default), Images);
        Assert.Equal(Meta, meta);
        Assert.Equal(2, rows.Count);
        AssertSame(A, rows[0].Sample);
        AssertSame(B, rows[1].Sample);
        Assert.Equal(ta.TopkIds, rows[0].TopkIds);
        Assert.Equal(ta.TopkLogprobs, rows[0].TopkLogprobs);
        Assert.Equal(-0.125f, rows[0].TopkLogprobs[0]);
        Assert.Same(A.Image, rows[0].Sample.Image); // the data path's array, not a copy
        Assert.Equal(ta.TailLogprob, rows[0].TailLogprob);
        Assert.Equal(2, rows[0].Positions);
        Assert.Equal(tb.TopkIds, rows[1].TopkIds);
        Assert.Equal(tb.TopkLogprobs, rows[1].TopkLogprobs);
        Assert.Equal(tb.TailLogprob, rows[1].TailLogprob);
        Assert.Equal(4, rows[1].Positions);
        Assert.Null(rows[1].Sample.Answer);
    }

    [Fact]
    public void Readers_refuse_the_other_schema()
    {
        var samples = SamplesV1.Write([A], 12);
        var e = Assert.Throws<InvalidDataException>(() => TeacherV2.Read(samples, Images));
        Assert.Equal("expected teacher/v2, found samples/v1", e.Message);
        var teacher = TeacherV2.Write([new TeacherRow(A, [1, 2], [-1f, -2f], [-3f])], Meta, 12, TeacherEncoding.Default);
        Assert.Equal("expected samples/v1, found teacher/v2", Assert.Throws<InvalidDataException>(() => SamplesV1.Read(teacher)).Message);
        Assert.Contains("samples/v1", Assert.Throws<InvalidDataException>(() => SamplesV1.Read([1, 2, 3, 4, 5])).Message);
    }

    [Fact]
    public void Topk_length_must_be_positions_times_k()
    {
        var bad = new TeacherRow(A, [1, 2, 3], [-1f, -2f, -3f], [-3f, -4f]);
        var e = Assert.Throws<ArgumentException>(() => TeacherV2.Write([bad], Meta, 12, TeacherEncoding.Default));
        Assert.Contains("train_00000_00", e.Message);
        Assert.Contains("2*2 = 4", e.Message);
        var outside = new TeacherRow(A, [1, 30], [-1f, -2f], [-3f]);
        Assert.Contains("30", Assert.Throws<ArgumentException>(() => TeacherV2.Write([outside], Meta, 12, TeacherEncoding.Default)).Message);
    }

    [Fact]
    public void A_stream_relabelled_to_another_k_is_refused_naming_the_column_and_the_widths()
    {
        // Written as K=2 over a vocabulary of 30 (5-bit ids, two exact log-probs: 6-byte log-prob records), then
        // relabelled K=3 in the metadata: the codec of K=3 with two exact log-probs has 8-byte records.
        var good = TeacherV2.Write([new TeacherRow(B, [1, 2, 3, 4], [-1f, -2f, -3f, -4f], [-1f, -2f])], Meta, 12, Plain);
        Assert.Single(TeacherV2.Read(good, Images).Rows);
        var codec = Plain.Codec(Meta.VocabSize, Meta.TopK);
        var schema = TeacherV2.Schema(Meta with { TopK = 3 }, 12, codec, IpcCompression.None);
        var e = Assert.Throws<InvalidDataException>(() => TeacherV2.Read(RewriteWithSchema(good, schema), Images));
        Assert.Equal("teacher/v2: column 'topk_logprobs' holds fixed_size_binary[6] records, the codec's are 8 bytes", e.Message);
    }

    [Fact]
    public void Write_checks_image_size_and_mask_length()
    {
        Assert.Contains("train_00000_00", Assert.Throws<ArgumentException>(() => SamplesV1.Write([A], 13)).Message);
        var mismatched = A with { SampleId = "m1", LabelsMask = [true] };
        Assert.Contains("m1", Assert.Throws<ArgumentException>(() => SamplesV1.Write([mismatched], 12)).Message);
        Assert.Contains("Scope", Assert.Throws<ArgumentException>(() => TeacherV2.Write([], Meta with { Scope = "some" }, 12, TeacherEncoding.Default)).Message);
    }

    [Fact]
    public void Missing_or_mistyped_columns_are_named()
    {
        var schema = new Apache.Arrow.Schema.Builder()
            .Field(new Apache.Arrow.Field("sample_id", Apache.Arrow.Types.StringType.Default, false))
            .Metadata("distill.schema", "samples/v1").Build();
        var bytes = WriteEmpty(schema);
        Assert.Contains("'image'", Assert.Throws<InvalidDataException>(() => SamplesV1.Read(bytes)).Message);

        var wrong = new Apache.Arrow.Schema.Builder();
        foreach (var f in SamplesV1.Schema(12).FieldsList)
            wrong.Field(f.Name == "input_ids" ? new Apache.Arrow.Field("input_ids", new Apache.Arrow.Types.ListType(Apache.Arrow.Types.Int64Type.Default), false) : f);
        var e = Assert.Throws<InvalidDataException>(() => SamplesV1.Read(WriteEmpty(wrong.Metadata("distill.schema", "samples/v1").Build())));
        Assert.Contains("'input_ids'", e.Message);
        Assert.Contains("Int64", e.Message);
    }

    private static void AssertSame(SampleRow expected, SampleRow actual)
    {
        Assert.Equal(expected.SampleId, actual.SampleId);
        Assert.Equal(expected.Image, actual.Image);
        Assert.Equal(expected.InputIds, actual.InputIds);
        Assert.Equal(expected.LabelsMask, actual.LabelsMask);
        Assert.Equal(expected.Task, actual.Task);
        Assert.Equal(expected.Answer, actual.Answer);
    }

    private static byte[] WriteEmpty(Apache.Arrow.Schema schema)
    {
        using var ms = new MemoryStream();
        using (var w = new Apache.Arrow.Ipc.ArrowStreamWriter(ms, schema, leaveOpen: true)) { w.WriteStart(); w.WriteEnd(); }
        return ms.ToArray();
    }

    /// <summary>The batches of <paramref name="ipc"/> re-written under another schema (same columns, other metadata).</summary>
    private static byte[] RewriteWithSchema(byte[] ipc, Apache.Arrow.Schema schema)
    {
        using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new MemoryStream(ipc));
        using var ms = new MemoryStream();
        using (var w = new Apache.Arrow.Ipc.ArrowStreamWriter(ms, schema, leaveOpen: true))
        {
            while (reader.ReadNextRecordBatch() is { } b)
                w.WriteRecordBatch(new Apache.Arrow.RecordBatch(schema, b.Arrays, b.Length));
            w.WriteEnd();
        }
        return ms.ToArray();
    }
}
