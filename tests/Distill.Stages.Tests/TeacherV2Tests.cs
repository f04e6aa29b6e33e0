using System.Security.Cryptography;
using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;
using Distill.Stages.Arrow;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary><c>teacher/v2</c> (issue 15, items 2-3): a part names its samples by id and image hash instead of holding
/// the images, the reader takes them from the data path and refuses a changed one, the top-K is the compact codec's.</summary>
public sealed class TeacherV2Tests
{
    /// <summary>One 336x336 RGB image: what a LLaVA-1.5 row's preprocessed image takes.</summary>
    private const int ImageBytes = 336 * 336 * 3;

    private static readonly TeacherBatchMeta Meta = new("teacher-abc", TopK: 8, VocabSize: 151_646, "tokhash", "response");

    private static SampleRow Sample(int i) => new($"s{i}", Enumerable.Range(0, ImageBytes).Select(b => (byte)(b * 7 + i)).ToArray(),
        [1, 2, 3, 4, 5], [false, false, true, true, true], "vqa", i % 2 == 0 ? "yes" : null);

    /// <summary>3 positions of K = 8: ids spread over the vocabulary, log-probs descending with uneven gaps.</summary>
    private static TeacherRow Row(int i)
    {
        var ids = Enumerable.Range(0, 24).Select(k => (k * 6151 + i * 17) % 151_646).ToArray();
        var logprobs = Enumerable.Range(0, 24).Select(k => -(float)(0.05 + 0.37 * (k % 8) + 0.011 * (k % 8) * (k % 8) + 0.2 * i)).ToArray();
        return new TeacherRow(Sample(i), ids, logprobs, [-3.1f, -4.7f, -5.2f]);
    }

    private static readonly TeacherRow[] Rows = Enumerable.Range(0, 4).Select(Row).ToArray();
    private static readonly RowImages Images = new(Rows.Select(r => r.Sample), ImageBytes);

    [Fact]
    public void A_part_holds_the_image_hash_not_the_image()
    {
        var bytes = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default);
        // Four rows of a 338,688-byte image each: 1.35 MB as teacher/v1 held them; the part is the ids and records.
        Assert.True(bytes.Length < 4_000, $"{bytes.Length} bytes");

        using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new MemoryStream(bytes), new Apache.Arrow.Compression.CompressionCodecFactory());
        using var batch = reader.ReadNextRecordBatch();
        Assert.Equal(["sample_id", "input_sha256", "input_ids", "labels_mask", "task", "answer", "topk_ids", "topk_logprobs"],
            reader.Schema.FieldsList.Select(f => f.Name));
        var hashes = (FixedSizeBinaryArray)batch.Column("input_sha256");
        for (int i = 0; i < Rows.Length; i++) Assert.Equal(SHA256.HashData(Rows[i].Sample.Image), hashes.GetBytes(i).ToArray());
        // Per position one record of 8 ids of 18 bits (151,646 > 2^17) = 18 bytes, one of 4 float16 + tail + exponent + 4 3-bit steps = 14 bytes.
        var ids = (ListArray)batch.Column("topk_ids");
        Assert.Equal(18, ((FixedSizeBinaryType)((ListType)ids.Data.DataType).ValueDataType).ByteWidth);
        Assert.Equal(3, ids.GetValueLength(2));
        var logprobs = (ListArray)batch.Column("topk_logprobs");
        Assert.Equal(2 * 4 + 2 + 1 + 2, ((FixedSizeBinaryType)((ListType)logprobs.Data.DataType).ValueDataType).ByteWidth);
        Assert.Equal("18", reader.Schema.Metadata["distill.topk.id_bits"]);
        Assert.Equal("zstd", reader.Schema.Metadata["distill.ipc_compression"]);
        Assert.Equal(ImageBytes.ToString(), reader.Schema.Metadata["distill.image_bytes"]);
    }

    [Fact]
    public void Rows_come_back_with_the_data_paths_images_exact_ids_and_log_probs_within_half_a_step()
    {
        var encoding = TeacherEncoding.Default;
        var (rows, meta) = TeacherV2.Read(TeacherV2.Write(Rows, Meta, ImageBytes, encoding), Images);
        Assert.Equal(Meta, meta);
        var codec = encoding.Codec(Meta.VocabSize, Meta.TopK);
        for (int i = 0; i < Rows.Length; i++)
        {
            Assert.Same(Images.Image($"s{i}"), rows[i].Sample.Image);
            Assert.Equal(Rows[i].Sample.InputIds, rows[i].Sample.InputIds);
            Assert.Equal(Rows[i].Sample.LabelsMask, rows[i].Sample.LabelsMask);
            Assert.Equal(Rows[i].Sample.Answer, rows[i].Sample.Answer);
            Assert.Equal(Rows[i].TopkIds, rows[i].TopkIds);
            // The codec's own decode of the same tokens, value for value.
            var compact = codec.Encode(new TopKTokens(8, Rows[i].TopkIds, Rows[i].TopkLogprobs, Rows[i].TailLogprob));
            var direct = codec.Decode(compact);
            Assert.Equal(direct.Logprobs, rows[i].TopkLogprobs);
            Assert.Equal(direct.Tails, rows[i].TailLogprob);
            for (int t = 0; t < 3; t++)
            {
                // The largest gap, 0.37 + 0.011 * 13 = 0.513 nats, takes 7 steps (3 bits) of at least 0.073: s = 2^3 / 64.
                double step = codec.StepOf(compact.Logprobs.AsSpan(t * codec.LogprobBytes, codec.LogprobBytes));
                Assert.Equal(0.125, step);
                for (int k = 0; k < 8; k++)
                {
                    double expected = Rows[i].TopkLogprobs[t * 8 + k], got = rows[i].TopkLogprobs[t * 8 + k];
                    double bound = k < 4 ? Math.Abs(expected) / 2048 : step / 2 + 1e-6; // float16 rounding, or half a step
                    Assert.True(Math.Abs(got - expected) <= bound, $"row {i} position {t} entry {k}: {got} vs {expected}");
                }
            }
        }
    }

    [Fact]
    public void A_changed_image_a_missing_sample_and_another_image_size_are_refused_naming_them()
    {
        var bytes = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default);
        var changed = Rows.Select(r => r.Sample).ToList();
        var edited = (byte[])changed[2].Image.Clone();
        edited[1000] ^= 1;
        changed[2] = changed[2] with { Image = edited };
        var e = Assert.Throws<InvalidDataException>(() => TeacherV2.Read(bytes, new RowImages(changed, ImageBytes)));
        Assert.Contains("sample 's2'", e.Message);
        Assert.Contains(Convert.ToHexStringLower(SHA256.HashData(Rows[2].Sample.Image)), e.Message);
        Assert.Contains("the dataset changed", e.Message);
        Assert.Contains("distill.cache.mode = write", e.Message);

        e = Assert.Throws<InvalidDataException>(() => TeacherV2.Read(bytes, new RowImages(Rows[..3].Select(r => r.Sample), ImageBytes)));
        Assert.Contains("sample 's3' is not in the data (3 rows in memory)", e.Message);

        var small = Rows.Select(r => r.Sample with { Image = new byte[12] });
        e = Assert.Throws<InvalidDataException>(() => TeacherV2.Read(bytes, new RowImages(small, 12)));
        Assert.Contains($"images of {ImageBytes} bytes", e.Message);
        Assert.Contains("gives 12", e.Message);
    }

    [Fact]
    public void A_teacher_v1_batch_is_refused_as_the_older_format()
    {
        // The first columns of a teacher/v1 part (it began with samples/v1's), under its schema name.
        var samples = SamplesV1.Write(Rows.Select(r => r.Sample).ToList(), ImageBytes);
        var schema = new Schema.Builder();
        using var reader = new Apache.Arrow.Ipc.ArrowStreamReader(new MemoryStream(samples));
        using var batch = reader.ReadNextRecordBatch();
        foreach (var f in reader.Schema.FieldsList) schema.Field(f);
        var v1 = schema.Metadata("distill.schema", "teacher/v1").Build();
        using var ms = new MemoryStream();
        using (var w = new Apache.Arrow.Ipc.ArrowStreamWriter(ms, v1, leaveOpen: true))
        {
            w.WriteRecordBatch(new RecordBatch(v1, batch.Arrays, batch.Length));
            w.WriteEnd();
        }
        var e = Assert.Throws<InvalidDataException>(() => TeacherV2.Read(ms.ToArray(), Images));
        Assert.Contains("teacher/v1 batch, written by an older Distill", e.Message);
        Assert.Contains("reads teacher/v2 only", e.Message);
    }

    [Fact]
    public void Compression_none_writes_a_larger_stream_with_the_same_rows()
    {
        var plain = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default with { Compression = IpcCompression.None });
        var lz4 = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default with { Compression = IpcCompression.Lz4 });
        var zstd = TeacherV2.Write(Rows, Meta, ImageBytes, TeacherEncoding.Default);
        Assert.True(zstd.Length < plain.Length, $"zstd {zstd.Length}, none {plain.Length}");
        var a = TeacherV2.Read(plain, Images).Rows;
        var b = TeacherV2.Read(lz4, Images).Rows;
        var c = TeacherV2.Read(zstd, Images).Rows;
        for (int i = 0; i < Rows.Length; i++)
        {
            Assert.Equal(a[i].TopkLogprobs, b[i].TopkLogprobs);
            Assert.Equal(a[i].TopkLogprobs, c[i].TopkLogprobs);
        }
    }
}
