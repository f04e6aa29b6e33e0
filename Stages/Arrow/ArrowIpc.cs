using Apache.Arrow;
using Apache.Arrow.Compression;
using Apache.Arrow.Ipc;

namespace Distill.Stages.Arrow;

/// <summary>Arrow IPC stream bytes in and out. Streams are written uncompressed unless told otherwise; every read
/// accepts zstd and LZ4 bodies (<see cref="IpcCompression"/>).</summary>
internal static class ArrowIpc
{
    /// <summary>The codecs of Apache.Arrow.Compression (zstd, LZ4 frame), for writers and readers.</summary>
    public static readonly ICompressionCodecFactory Codecs = new CompressionCodecFactory();

    public static byte[] Write(Schema schema, IReadOnlyList<IArrowArray> columns, int length,
        IpcCompression compression = IpcCompression.None)
    {
        using var batch = new RecordBatch(schema, columns, length);
        using var ms = new MemoryStream();
        using (var writer = new ArrowStreamWriter(ms, schema, leaveOpen: true, compression.Options()))
        {
            writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        return ms.ToArray();
    }

    /// <summary>One stream of <paramref name="schema"/> holding <paramref name="batches"/> in order, compressed as the
    /// schema's <see cref="ArrowContract.CompressionKey"/> says.</summary>
    public static byte[] Write(Schema schema, IEnumerable<RecordBatch> batches)
    {
        using var ms = new MemoryStream();
        using (var writer = new ArrowStreamWriter(ms, schema, leaveOpen: true, ArrowContract.CompressionOf(schema).Options()))
        {
            foreach (var batch in batches) writer.WriteRecordBatch(batch);
            writer.WriteEnd();
        }
        return ms.ToArray();
    }

    /// <summary>The schema and every record batch of a stream; the caller disposes the batches.</summary>
    public static (Schema Schema, List<RecordBatch> Batches) Read(byte[] ipc, string expectedSchema)
    {
        ArgumentNullException.ThrowIfNull(ipc);
        try
        {
            using var reader = new ArrowStreamReader(new ReadOnlyMemory<byte>(ipc), Codecs);
            var batches = new List<RecordBatch>();
            while (reader.ReadNextRecordBatch() is { } b) batches.Add(b);
            return (reader.Schema, batches);
        }
        catch (Exception e) when (e is not InvalidDataException and not OutOfMemoryException)
        {
            throw new InvalidDataException($"Expected an Arrow IPC stream of {expectedSchema} ({ipc.Length} bytes): {e.Message}", e);
        }
    }
}
