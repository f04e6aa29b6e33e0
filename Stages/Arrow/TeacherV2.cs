using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary><c>teacher/v2</c> (teacher -> trainer, cache): the teacher's sparse output per row, naming its sample
/// instead of holding the image again. Columns:
/// <list type="table">
/// <item><term>sample_id utf8</term><description>the sample of the data the teacher saw.</description></item>
/// <item><term>input_sha256 fixed_size_binary[32]</term><description>sha256 of the preprocessed image bytes (the
/// <c>H*W*3</c> RGB of <c>samples/v1</c>'s <c>image</c>); a reader takes the image from the data path and refuses a
/// row whose image no longer has this hash.</description></item>
/// <item><term>input_ids list&lt;int32&gt;, labels_mask list&lt;bool&gt;, task utf8, answer utf8 (nullable)</term>
/// <description>as in <c>samples/v1</c>; the ids include a response the teacher generated.</description></item>
/// <item><term>topk_ids list&lt;fixed_size_binary[<see cref="TopKCodec.IdBytes"/>]&gt;</term><description>one id record
/// per predicting position (<c>PredictingPositions</c>).</description></item>
/// <item><term>topk_logprobs list&lt;fixed_size_binary[<see cref="TopKCodec.LogprobBytes"/>]&gt;</term><description>one
/// log-prob record per predicting position (with the tail).</description></item>
/// </list>
/// The record layouts are <see cref="TopKCodec"/>'s, its parameters in the <c>distill.topk.*</c> metadata of
/// <see cref="CompactTopKPart"/>. Further metadata: <c>distill.teacher_fingerprint</c>, <c>distill.top_k</c>,
/// <c>distill.vocab_size</c>, <c>distill.tokenizer_hash</c>, <c>distill.scope</c>, <c>distill.image_bytes</c> and
/// <c>distill.ipc_compression</c> (the body compression, zstd or LZ4 frame in Arrow's own format, or none).</summary>
public static class TeacherV2
{
    public const string SchemaName = "teacher/v2";

    /// <summary>The contract before this one: every row carried its image, log-probs were float16 lists.</summary>
    public const string PreviousSchemaName = "teacher/v1";

    public const string InputSha256 = "input_sha256", TopkIds = "topk_ids", TopkLogprobs = "topk_logprobs";
    public const string FingerprintKey = "distill.teacher_fingerprint", TopKKey = "distill.top_k", VocabSizeKey = "distill.vocab_size",
        TokenizerHashKey = "distill.tokenizer_hash", ScopeKey = "distill.scope", ImageBytesKey = "distill.image_bytes";
    public static readonly IReadOnlyList<string> Scopes = ["response", "all"];

    public static Schema Schema(TeacherBatchMeta meta, int imageBytes, TopKCodec codec, IpcCompression compression)
    {
        ValidateMeta(meta);
        ArgumentOutOfRangeException.ThrowIfLessThan(imageBytes, 1);
        var o = codec.Options;
        return new Schema.Builder()
            .Field(new Field(SampleColumns.SampleId, StringType.Default, nullable: false))
            .Field(new Field(InputSha256, new FixedSizeBinaryType(SHA256.HashSizeInBytes), nullable: false))
            .Field(new Field(SampleColumns.InputIds, ArrowColumns.ListOf(Int32Type.Default), nullable: false))
            .Field(new Field(SampleColumns.LabelsMask, ArrowColumns.ListOf(BooleanType.Default), nullable: false))
            .Field(new Field(SampleColumns.Task, StringType.Default, nullable: false))
            .Field(new Field(SampleColumns.Answer, StringType.Default, nullable: true))
            .Field(new Field(TopkIds, ArrowColumns.ListOf(new FixedSizeBinaryType(codec.IdBytes)), nullable: false))
            .Field(new Field(TopkLogprobs, ArrowColumns.ListOf(new FixedSizeBinaryType(codec.LogprobBytes)), nullable: false))
            .Metadata(ArrowContract.SchemaKey, SchemaName)
            .Metadata(FingerprintKey, meta.TeacherFingerprint)
            .Metadata(TopKKey, Invariant(meta.TopK))
            .Metadata(VocabSizeKey, Invariant(meta.VocabSize))
            .Metadata(TokenizerHashKey, meta.TokenizerHash)
            .Metadata(ScopeKey, meta.Scope)
            .Metadata(ImageBytesKey, Invariant(imageBytes))
            .Metadata(ArrowContract.CompressionKey, compression.Name())
            .Metadata(CompactTopKPart.IdBitsKey, Invariant(codec.IdBits))
            .Metadata(CompactTopKPart.ExactCountKey, Invariant(o.ExactCount))
            .Metadata(CompactTopKPart.DeltaBitsKey, Invariant(o.DeltaBits))
            .Metadata(CompactTopKPart.BaseStepKey, o.BaseStep.ToString("R", CultureInfo.InvariantCulture))
            .Build();
    }

    /// <summary>Encodes <paramref name="rows"/> (each with its image, which only its hash is written of).</summary>
    public static byte[] Write(IReadOnlyList<TeacherRow> rows, TeacherBatchMeta meta, int imageBytes, TeacherEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(encoding);
        ValidateMeta(meta);
        var codec = encoding.Codec(meta.VocabSize, meta.TopK);
        var schema = Schema(meta, imageBytes, codec, encoding.Compression);
        SampleColumns.Validate(rows.Select((r, i) => r?.Sample ?? throw new ArgumentException($"{SchemaName}: row {i} is null")).ToList(),
            imageBytes, SchemaName);
        foreach (var r in rows) CheckTopK(r, meta, msg => new ArgumentException(msg));

        int k = meta.TopK, tokens = checked(rows.Sum(r => r.Positions));
        var ids = new int[(long)tokens * k];
        var logprobs = new float[(long)tokens * k];
        var tails = new float[tokens];
        var offsets = new int[rows.Count + 1];
        for (int i = 0; i < rows.Count; i++)
        {
            var r = rows[i];
            int at = offsets[i];
            r.TopkIds.CopyTo(ids, (long)at * k);
            r.TopkLogprobs.CopyTo(logprobs, (long)at * k);
            r.TailLogprob.CopyTo(tails, at);
            offsets[i + 1] = at + r.Positions;
        }
        CompactTopK compact;
        try
        {
            compact = codec.Encode(new TopKTokens(k, ids, logprobs, tails));
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{SchemaName}: {e.Message} (token counted over the batch's rows in order)", e);
        }

        IArrowArray[] columns =
        [
            ArrowColumns.Utf8(rows.Select(r => r.Sample.SampleId)),
            ArrowColumns.FixedBinary(rows.Select(r => SHA256.HashData(r.Sample.Image)).ToList(), SHA256.HashSizeInBytes),
            ArrowColumns.Int32Lists(rows.Select(r => r.Sample.InputIds).ToList()),
            ArrowColumns.BoolLists(rows.Select(r => r.Sample.LabelsMask).ToList()),
            ArrowColumns.Utf8(rows.Select(r => r.Sample.Task)),
            ArrowColumns.Utf8(rows.Select(r => r.Sample.Answer)),
            RecordLists(offsets, compact.Ids, codec.IdBytes),
            RecordLists(offsets, compact.Logprobs, codec.LogprobBytes),
        ];
        return ArrowIpc.Write(schema, columns, rows.Count, encoding.Compression);
    }

    /// <summary>The metadata of a batch, without reading its rows.</summary>
    public static TeacherBatchMeta ReadMeta(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        foreach (var b in batches) b.Dispose();
        RequireSchema(schema);
        return Meta(schema);
    }

    /// <summary>The rows, each with its image from <paramref name="images"/> (the same array the data path holds),
    /// which must have the sha256 the teacher saw.</summary>
    /// <exception cref="InvalidDataException">not a <c>teacher/v2</c> batch (an older <c>teacher/v1</c> one says so), a
    /// malformed one, a sample the data does not have, or an image that is no longer the one the teacher saw.</exception>
    public static (IReadOnlyList<TeacherRow> Rows, TeacherBatchMeta Meta) Read(byte[] ipc, ISampleImages images)
    {
        ArgumentNullException.ThrowIfNull(images);
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            RequireSchema(schema);
            var meta = Meta(schema);
            int imageBytes = ArrowContract.RequireIntMetadata(schema, ImageBytesKey, SchemaName);
            if (imageBytes != images.ImageBytes)
                throw new InvalidDataException($"{SchemaName}: the teacher saw images of {imageBytes} bytes, the data ({images.Describe}) " +
                                               $"gives {images.ImageBytes} (a different distill.data.image-size or image processor)");
            var codec = Codec(schema, meta);
            var rows = new List<TeacherRow>();
            foreach (var batch in batches) ReadBatch(batch, meta, codec, images, rows);
            return (rows, meta);
        }
        catch (ArgumentException e)
        {
            throw new InvalidDataException($"{SchemaName}: {e.Message}", e);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    /// <summary>Lowercase hex sha256 of a preprocessed image, as <c>input_sha256</c> holds it.</summary>
    public static string InputHash(byte[] image) => Convert.ToHexStringLower(SHA256.HashData(image));

    private static void ReadBatch(RecordBatch batch, TeacherBatchMeta meta, TopKCodec codec, ISampleImages images, List<TeacherRow> into)
    {
        var sampleIds = (StringArray)batch.Column(SampleColumns.SampleId);
        var hashes = (FixedSizeBinaryArray)batch.Column(InputSha256);
        var inputIds = (ListArray)batch.Column(SampleColumns.InputIds);
        var masks = (ListArray)batch.Column(SampleColumns.LabelsMask);
        var tasks = (StringArray)batch.Column(SampleColumns.Task);
        var answers = (StringArray)batch.Column(SampleColumns.Answer);
        var idLists = (ListArray)batch.Column(TopkIds);
        var logprobLists = (ListArray)batch.Column(TopkLogprobs);
        var tokens = codec.Decode(new CompactTopK(Records(idLists, out int first), RecordBytes(idLists, codec.IdBytes),
            RecordBytes(logprobLists, codec.LogprobBytes)));
        int k = meta.TopK;
        for (int i = 0; i < batch.Length; i++)
        {
            if (sampleIds.IsNull(i)) throw new InvalidDataException($"{SchemaName}: row {i} has a null sample_id");
            string id = sampleIds.GetString(i);
            if (hashes.IsNull(i) || inputIds.IsNull(i) || masks.IsNull(i) || tasks.IsNull(i) || idLists.IsNull(i) || logprobLists.IsNull(i))
                throw new InvalidDataException($"{SchemaName}: sample '{id}' has a null in a non-nullable column");
            int start = idLists.ValueOffsets[i] - first, positions = idLists.GetValueLength(i);
            if (logprobLists.ValueOffsets[i] - logprobLists.ValueOffsets[0] != start || logprobLists.GetValueLength(i) != positions)
                throw new InvalidDataException($"{SchemaName}: sample '{id}' has {positions} id records but {logprobLists.GetValueLength(i)} log-prob records");
            var image = images.Image(id)
                ?? throw new InvalidDataException($"{SchemaName}: sample '{id}' is not in the data ({images.Describe}): these teacher outputs were made from other data");
            string expected = Convert.ToHexStringLower(hashes.GetBytes(i));
            if (image.Length != images.ImageBytes || InputHash(image) is var actual && actual != expected)
                throw new InvalidDataException($"{SchemaName}: sample '{id}': the data's image ({images.Describe}) is not the one the teacher saw " +
                                               $"(sha256 {expected}): the dataset changed after these teacher outputs were made; make them again " +
                                               "(distill.cache.mode = write)");
            var sample = new SampleRow(id, image, ArrowColumns.Int32List(inputIds, i), ArrowColumns.BoolList(masks, i), tasks.GetString(i),
                answers.IsNull(i) ? null : answers.GetString(i));
            if (sample.InputIds.Length != sample.LabelsMask.Length)
                throw new InvalidDataException($"{SchemaName}: sample '{id}' has {sample.InputIds.Length} input_ids but {sample.LabelsMask.Length} labels_mask values");
            var row = new TeacherRow(sample, tokens.Ids.AsSpan(start * k, positions * k).ToArray(),
                tokens.Logprobs.AsSpan(start * k, positions * k).ToArray(), tokens.Tails.AsSpan(start, positions).ToArray());
            CheckTopK(row, meta, msg => new InvalidDataException(msg));
            into.Add(row);
        }
    }

    /// <summary>list&lt;fixed_size_binary[width]&gt; of rows whose records are consecutive in <paramref name="records"/>.</summary>
    private static ListArray RecordLists(int[] offsets, byte[] records, int width)
    {
        int count = offsets[^1];
        var values = new FixedSizeBinaryArray(new ArrayData(new FixedSizeBinaryType(width), count, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(records)]));
        var offsetBuffer = new ArrowBuffer(MemoryMarshal.AsBytes(offsets.AsSpan()).ToArray());
        return new ListArray(ArrowColumns.ListOf(new FixedSizeBinaryType(width)), offsets.Length - 1, offsetBuffer, values, ArrowBuffer.Empty, 0, 0);
    }

    /// <summary>Records of a batch's lists: the first list's offset (<paramref name="first"/>) on.</summary>
    private static int Records(ListArray lists, out int first)
    {
        first = lists.Length == 0 ? 0 : lists.ValueOffsets[0];
        return lists.Length == 0 ? 0 : lists.ValueOffsets[lists.Length] - first;
    }

    private static byte[] RecordBytes(ListArray lists, int width)
    {
        var values = (FixedSizeBinaryArray)lists.Values;
        if (values.NullCount > 0) throw new InvalidDataException($"{SchemaName}: {values.NullCount} null record(s) in a column of width {width}");
        int count = Records(lists, out int start);
        long from = (long)(values.Offset + start) * width, length = (long)count * width;
        if (start < 0 || count < 0 || from + length > values.ValueBuffer.Length)
            throw new InvalidDataException($"{SchemaName}: list offsets reach record {start + count}, the column holds {values.ValueBuffer.Length / width}");
        return values.ValueBuffer.Span.Slice((int)from, (int)length).ToArray();
    }

    private static void RequireSchema(Schema schema)
    {
        string? name = ArrowContract.Metadata(schema, ArrowContract.SchemaKey);
        if (name == PreviousSchemaName)
            throw new InvalidDataException($"this is a {PreviousSchemaName} batch, written by an older Distill (every row with its image): this version " +
                                           $"reads {SchemaName} only; make the teacher outputs again (distill.cache.mode = write) or delete the old cache");
        ArrowContract.RequireSchemaName(schema, SchemaName);
        ArrowContract.RequireColumn(schema, SampleColumns.SampleId, ArrowTypeId.String, SchemaName);
        RequireWidth(schema, InputSha256, SHA256.HashSizeInBytes);
        ArrowContract.RequireColumn(schema, SampleColumns.InputIds, ArrowTypeId.List, SchemaName, ArrowTypeId.Int32);
        ArrowContract.RequireColumn(schema, SampleColumns.LabelsMask, ArrowTypeId.List, SchemaName, ArrowTypeId.Boolean);
        ArrowContract.RequireColumn(schema, SampleColumns.Task, ArrowTypeId.String, SchemaName);
        ArrowContract.RequireColumn(schema, SampleColumns.Answer, ArrowTypeId.String, SchemaName);
        ArrowContract.RequireColumn(schema, TopkIds, ArrowTypeId.List, SchemaName, ArrowTypeId.FixedSizedBinary);
        ArrowContract.RequireColumn(schema, TopkLogprobs, ArrowTypeId.List, SchemaName, ArrowTypeId.FixedSizedBinary);
    }

    private static TeacherBatchMeta Meta(Schema schema)
    {
        var meta = new TeacherBatchMeta(
            ArrowContract.RequireMetadata(schema, FingerprintKey, SchemaName),
            ArrowContract.RequireIntMetadata(schema, TopKKey, SchemaName),
            ArrowContract.RequireIntMetadata(schema, VocabSizeKey, SchemaName),
            ArrowContract.RequireMetadata(schema, TokenizerHashKey, SchemaName),
            ArrowContract.RequireMetadata(schema, ScopeKey, SchemaName));
        if (!Scopes.Contains(meta.Scope))
            throw new InvalidDataException($"{SchemaName}: metadata '{ScopeKey}' = '{meta.Scope}', expected one of {string.Join(", ", Scopes)}");
        return meta;
    }

    /// <summary>The codec of the metadata; the record columns must have its widths.</summary>
    private static TopKCodec Codec(Schema schema, TeacherBatchMeta meta)
    {
        string step = ArrowContract.RequireMetadata(schema, CompactTopKPart.BaseStepKey, SchemaName);
        if (!double.TryParse(step, NumberStyles.Float, CultureInfo.InvariantCulture, out double baseStep))
            throw new InvalidDataException($"{SchemaName}: schema metadata '{CompactTopKPart.BaseStepKey}' = '{step}' is not a number");
        var codec = new TopKCodec(new TopKCodecOptions(meta.VocabSize, meta.TopK,
            ArrowContract.RequireIntMetadata(schema, CompactTopKPart.ExactCountKey, SchemaName),
            ArrowContract.RequireIntMetadata(schema, CompactTopKPart.DeltaBitsKey, SchemaName), baseStep));
        int idBits = ArrowContract.RequireIntMetadata(schema, CompactTopKPart.IdBitsKey, SchemaName);
        if (idBits != codec.IdBits)
            throw new InvalidDataException($"{SchemaName}: metadata '{CompactTopKPart.IdBitsKey}' = {idBits}, but a vocabulary of {meta.VocabSize} takes {codec.IdBits} bits");
        RequireListWidth(schema, TopkIds, codec.IdBytes);
        RequireListWidth(schema, TopkLogprobs, codec.LogprobBytes);
        return codec;
    }

    private static void RequireWidth(Schema schema, string name, int width)
    {
        var field = ArrowContract.RequireColumn(schema, name, ArrowTypeId.FixedSizedBinary, SchemaName);
        if (((FixedSizeBinaryType)field.DataType).ByteWidth is var found && found != width)
            throw new InvalidDataException($"{SchemaName}: column '{name}' is fixed_size_binary[{found}], expected [{width}]");
    }

    private static void RequireListWidth(Schema schema, string name, int width)
    {
        var field = schema.FieldsList.First(f => f.Name == name);
        int found = ((FixedSizeBinaryType)((ListType)field.DataType).ValueDataType).ByteWidth;
        if (found != width)
            throw new InvalidDataException($"{SchemaName}: column '{name}' holds fixed_size_binary[{found}] records, the codec's are {width} bytes");
    }

    private static void ValidateMeta(TeacherBatchMeta meta)
    {
        ArgumentNullException.ThrowIfNull(meta);
        if (meta.TopK <= 0) throw new ArgumentException($"{SchemaName}: TopK must be > 0, got {meta.TopK}");
        if (meta.VocabSize <= 0) throw new ArgumentException($"{SchemaName}: VocabSize must be > 0, got {meta.VocabSize}");
        if (string.IsNullOrEmpty(meta.TeacherFingerprint)) throw new ArgumentException($"{SchemaName}: TeacherFingerprint is empty");
        if (string.IsNullOrEmpty(meta.TokenizerHash)) throw new ArgumentException($"{SchemaName}: TokenizerHash is empty");
        if (!Scopes.Contains(meta.Scope))
            throw new ArgumentException($"{SchemaName}: Scope '{meta.Scope}' is not one of {string.Join(", ", Scopes)}");
    }

    /// <summary>topk lengths == positions*K and every id inside the vocabulary; errors name the sample id.</summary>
    private static void CheckTopK(TeacherRow r, TeacherBatchMeta meta, Func<string, Exception> error)
    {
        string id = r.Sample.SampleId;
        if (r.TopkIds is null || r.TopkLogprobs is null || r.TailLogprob is null)
            throw error($"{SchemaName}: sample '{id}' lacks topk_ids, topk_logprobs or tail_logprob");
        long expected = (long)r.Positions * meta.TopK;
        if (r.TopkIds.Length != expected || r.TopkLogprobs.Length != expected)
            throw error($"{SchemaName}: sample '{id}' has {r.TopkIds.Length} topk_ids and {r.TopkLogprobs.Length} topk_logprobs, " +
                        $"expected positions*K = {r.Positions}*{meta.TopK} = {expected}");
        foreach (int t in r.TopkIds)
            if (t < 0 || t >= meta.VocabSize)
                throw error($"{SchemaName}: sample '{id}' has topk id {t} outside the vocabulary of {meta.VocabSize}");
    }

    private static string Invariant(int v) => v.ToString(CultureInfo.InvariantCulture);
}
