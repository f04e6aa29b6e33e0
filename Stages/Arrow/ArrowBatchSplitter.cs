using Apache.Arrow;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>Cuts an Arrow IPC stream larger than a byte limit into several streams of whole rows, each within the
/// limit, and joins such parts back into one stream. Works for every contract (<c>samples/v1</c>, <c>teacher/v2</c>,
/// <c>preference/v1</c>): every part keeps the schema and its metadata, rows are sliced in order and never changed,
/// so the joined stream holds exactly the rows of the original (as one record batch per part). A single row larger
/// than the limit cannot be cut: <see cref="OversizedRowException"/> names its sample; nothing is ever dropped.</summary>
public static class ArrowBatchSplitter
{
    /// <summary>The stream itself (same array) when it fits in <paramref name="maxBytes"/>, else its rows cut into
    /// parts of at most <paramref name="maxBytes"/> bytes each, in row order.</summary>
    /// <exception cref="OversizedRowException">one row alone is larger than <paramref name="maxBytes"/>.</exception>
    /// <exception cref="InvalidDataException">the bytes are not an Arrow IPC stream.</exception>
    public static IReadOnlyList<byte[]> Split(byte[] ipc, long maxBytes)
    {
        ArgumentNullException.ThrowIfNull(ipc);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        if (ipc.Length <= maxBytes) return [ipc];

        var (schema, batches) = ArrowIpc.Read(ipc, "a distill batch");
        try
        {
            var parts = new List<byte[]>();
            foreach (var batch in batches)
            {
                if (batch.Length == 0) continue;
                // Rows per part from the average row size; a part that still comes out too large is halved.
                var rowsPerPart = (int)Math.Clamp(batch.Length * (double)maxBytes / ipc.Length, 1, batch.Length);
                for (var offset = 0; offset < batch.Length; offset += rowsPerPart)
                    Cut(schema, batch, offset, Math.Min(rowsPerPart, batch.Length - offset), maxBytes, parts);
            }
            if (parts.Count == 0)
                throw new InvalidDataException(
                    $"{ContractOf(schema)}: {ipc.Length} bytes without any row exceed the limit of {maxBytes} bytes");
            return parts;
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    /// <summary>One stream holding the rows of every part, in order (one record batch per part). A single part is
    /// returned as it is.</summary>
    /// <exception cref="InvalidDataException">a part is not an Arrow stream, or the parts' schemas differ.</exception>
    public static byte[] Join(IReadOnlyList<byte[]> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        if (parts.Count == 0) throw new ArgumentException("no parts to join", nameof(parts));
        if (parts.Count == 1) return parts[0];

        Schema? schema = null;
        var batches = new List<RecordBatch>();
        try
        {
            for (var i = 0; i < parts.Count; i++)
            {
                var (partSchema, partBatches) = ArrowIpc.Read(parts[i], $"part {i + 1} of {parts.Count}");
                batches.AddRange(partBatches);
                schema ??= partSchema;
                if (!SameSchema(schema, partSchema))
                    throw new InvalidDataException(
                        $"part {i + 1} of {parts.Count} has schema {ContractOf(partSchema)} ({partSchema.FieldsList.Count} columns), " +
                        $"part 1 has {ContractOf(schema)} ({schema.FieldsList.Count} columns): the parts are not of one batch");
            }
            return ArrowIpc.Write(schema!, batches);
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }

    private static void Cut(Schema schema, RecordBatch batch, int offset, int length, long maxBytes, List<byte[]> parts)
    {
        var bytes = ArrowIpc.Write(schema, [batch.Slice(offset, length)]);
        if (bytes.Length <= maxBytes)
        {
            parts.Add(bytes);
            return;
        }
        if (length == 1) throw new OversizedRowException(ContractOf(schema), SampleIdOf(batch, offset), bytes.Length, maxBytes);
        var half = length / 2;
        Cut(schema, batch, offset, half, maxBytes, parts);
        Cut(schema, batch, offset + half, length - half, maxBytes, parts);
    }

    private static string ContractOf(Schema schema) => ArrowContract.Metadata(schema, ArrowContract.SchemaKey) ?? "Arrow batch";

    private static string SampleIdOf(RecordBatch batch, int row) =>
        batch.Schema.GetFieldIndex(SampleColumns.SampleId) is >= 0 and var i && batch.Column(i) is StringArray ids && !ids.IsNull(row)
            ? ids.GetString(row)
            : $"row {row}";

    private static bool SameSchema(Schema a, Schema b)
    {
        if (a.FieldsList.Count != b.FieldsList.Count) return false;
        for (var i = 0; i < a.FieldsList.Count; i++)
        {
            var (fa, fb) = (a.FieldsList[i], b.FieldsList[i]);
            if (fa.Name != fb.Name || !SameType(fa.DataType, fb.DataType)) return false;
        }
        var (ma, mb) = (a.Metadata ?? new Dictionary<string, string>(), b.Metadata ?? new Dictionary<string, string>());
        return ma.Count == mb.Count && ma.All(kv => mb.TryGetValue(kv.Key, out var v) && v == kv.Value);
    }

    private static bool SameType(IArrowType a, IArrowType b) => (a, b) switch
    {
        (ListType la, ListType lb) => SameType(la.ValueDataType, lb.ValueDataType),
        (FixedSizeBinaryType fa, FixedSizeBinaryType fb) => fa.ByteWidth == fb.ByteWidth,
        _ => a.TypeId == b.TypeId,
    };
}

/// <summary>One row of an Arrow batch is larger than the batch limit on its own, so it cannot be sent in parts.</summary>
public sealed class OversizedRowException(string contract, string sampleId, long rowBytes, long maxBytes)
    : Exception($"{contract}: sample '{sampleId}' alone is {rowBytes} bytes as an Arrow batch, more than the " +
                           $"batch limit of {maxBytes} bytes (distill.transport.max-batch-bytes); it cannot be split further")
{
    public string SampleId { get; } = sampleId;
    public long RowBytes { get; } = rowBytes;
    public long MaxBytes { get; } = maxBytes;
}
