using System.Globalization;
using Apache.Arrow;
using Apache.Arrow.Arrays;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>An Arrow IPC stream of <see cref="TopKCodec"/> records, one row per token: <c>topk_ids</c>
/// fixed_size_binary[<see cref="TopKCodec.IdBytes"/>] and <c>topk_logprobs</c>
/// fixed_size_binary[<see cref="TopKCodec.LogprobBytes"/>], non-null, with the codec's parameters in the schema
/// metadata (<c>distill.topk.*</c>). Any Arrow implementation reads it (with the zstd or LZ4 codec when it was written
/// compressed); the bytes inside the two columns follow the layout documented on <see cref="TopKCodec"/>. Keeping ids
/// and log-probs in separate columns lets the IPC compression see each kind of data in a buffer of its own.</summary>
public static class CompactTopKPart
{
    public const string SchemaName = "topk-compact/1";
    public const string TopkIds = "topk_ids", TopkLogprobs = "topk_logprobs";
    public const string VocabSizeKey = "distill.topk.vocab_size", TopKKey = "distill.topk.k", IdBitsKey = "distill.topk.id_bits",
        ExactCountKey = "distill.topk.exact_count", DeltaBitsKey = "distill.topk.delta_bits", BaseStepKey = "distill.topk.base_step";

    public static Schema Schema(TopKCodec codec)
    {
        ArgumentNullException.ThrowIfNull(codec);
        var o = codec.Options;
        return new Schema.Builder()
            .Field(new Field(TopkIds, new FixedSizeBinaryType(codec.IdBytes), nullable: false))
            .Field(new Field(TopkLogprobs, new FixedSizeBinaryType(codec.LogprobBytes), nullable: false))
            .Metadata(ArrowContract.SchemaKey, SchemaName)
            .Metadata(VocabSizeKey, Invariant(o.VocabSize))
            .Metadata(TopKKey, Invariant(o.TopK))
            .Metadata(IdBitsKey, Invariant(codec.IdBits))
            .Metadata(ExactCountKey, Invariant(o.ExactCount))
            .Metadata(DeltaBitsKey, Invariant(o.DeltaBits))
            .Metadata(BaseStepKey, o.BaseStep.ToString("R", CultureInfo.InvariantCulture))
            .Build();
    }

    /// <summary>Encodes <paramref name="tokens"/> and writes them as one record batch.</summary>
    public static byte[] Write(TopKCodec codec, TopKTokens tokens, IpcCompression compression) =>
        Write(codec, codec.Encode(tokens), compression);

    public static byte[] Write(TopKCodec codec, CompactTopK compact, IpcCompression compression)
    {
        ArgumentNullException.ThrowIfNull(compact);
        var schema = Schema(codec);
        if (compact.Ids.Length != (long)compact.Tokens * codec.IdBytes || compact.Logprobs.Length != (long)compact.Tokens * codec.LogprobBytes)
            throw new ArgumentException($"{SchemaName}: {compact.Ids.Length} id bytes and {compact.Logprobs.Length} log-prob bytes do not make " +
                                        $"{compact.Tokens} records of {codec.IdBytes} and {codec.LogprobBytes} bytes");
        IArrowArray[] columns = [Fixed(compact.Ids, compact.Tokens, codec.IdBytes), Fixed(compact.Logprobs, compact.Tokens, codec.LogprobBytes)];
        return ArrowIpc.Write(schema, columns, compact.Tokens, compression);
    }

    /// <summary>The codec the stream was written with and its records, every batch in order.</summary>
    public static (TopKCodec Codec, CompactTopK Compact) Read(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            ArrowContract.RequireSchemaName(schema, SchemaName);
            var codec = new TopKCodec(new TopKCodecOptions(
                ArrowContract.RequireIntMetadata(schema, VocabSizeKey, SchemaName),
                ArrowContract.RequireIntMetadata(schema, TopKKey, SchemaName),
                ArrowContract.RequireIntMetadata(schema, ExactCountKey, SchemaName),
                ArrowContract.RequireIntMetadata(schema, DeltaBitsKey, SchemaName),
                BaseStep(schema)));
            int idBits = ArrowContract.RequireIntMetadata(schema, IdBitsKey, SchemaName);
            if (idBits != codec.IdBits)
                throw new InvalidDataException($"{SchemaName}: metadata '{IdBitsKey}' = {idBits}, but a vocabulary of {codec.Options.VocabSize} takes {codec.IdBits} bits");
            RequireWidth(schema, TopkIds, codec.IdBytes);
            RequireWidth(schema, TopkLogprobs, codec.LogprobBytes);

            using var ids = new MemoryStream();
            using var logprobs = new MemoryStream();
            int tokens = 0;
            foreach (var batch in batches)
            {
                Append(ids, (FixedSizeBinaryArray)batch.Column(TopkIds), codec.IdBytes);
                Append(logprobs, (FixedSizeBinaryArray)batch.Column(TopkLogprobs), codec.LogprobBytes);
                tokens += batch.Length;
            }
            return (codec, new CompactTopK(tokens, ids.ToArray(), logprobs.ToArray()));
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

    /// <summary>Reads and decodes every token.</summary>
    public static TopKTokens ReadTokens(byte[] ipc)
    {
        var (codec, compact) = Read(ipc);
        return codec.Decode(compact);
    }

    private static FixedSizeBinaryArray Fixed(byte[] records, int count, int width)
    {
        var data = new ArrayData(new FixedSizeBinaryType(width), count, 0, 0, [ArrowBuffer.Empty, new ArrowBuffer(records)]);
        return new FixedSizeBinaryArray(data);
    }

    private static void Append(MemoryStream into, FixedSizeBinaryArray column, int width)
    {
        if (column.NullCount > 0) throw new InvalidDataException($"{SchemaName}: {column.NullCount} null record(s) in a column of width {width}");
        // The values buffer of a (possibly sliced) fixed-size binary array: records offset .. offset + length.
        into.Write(column.ValueBuffer.Span.Slice(column.Offset * width, column.Length * width));
    }

    private static void RequireWidth(Schema schema, string name, int width)
    {
        var field = ArrowContract.RequireColumn(schema, name, ArrowTypeId.FixedSizedBinary, SchemaName);
        int found = ((FixedSizeBinaryType)field.DataType).ByteWidth;
        if (found != width)
            throw new InvalidDataException($"{SchemaName}: column '{name}' is fixed_size_binary[{found}], the codec's records are {width} bytes");
    }

    private static double BaseStep(Schema schema)
    {
        string v = ArrowContract.RequireMetadata(schema, BaseStepKey, SchemaName);
        return double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double step)
            ? step
            : throw new InvalidDataException($"{SchemaName}: schema metadata '{BaseStepKey}' = '{v}' is not a number");
    }

    private static string Invariant(int v) => v.ToString(CultureInfo.InvariantCulture);
}
