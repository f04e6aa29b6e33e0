using Apache.Arrow;

namespace Distill.Stages.Arrow;

/// <summary><c>samples/v1</c> (loader -> teacher) as Arrow IPC stream bytes: sample_id utf8,
/// image fixed_size_binary(H*W*3), input_ids list&lt;int32&gt;, labels_mask list&lt;bool&gt;, task utf8, answer utf8?.</summary>
public static class SamplesV1
{
    public const string SchemaName = "samples/v1";

    public static Schema Schema(int imageBytes)
    {
        var b = new Schema.Builder();
        foreach (var f in SampleColumns.Fields(imageBytes)) b.Field(f);
        return b.Metadata(ArrowContract.SchemaKey, SchemaName).Build();
    }

    public static byte[] Write(IReadOnlyList<SampleRow> rows, int imageBytes)
    {
        ArgumentNullException.ThrowIfNull(rows);
        SampleColumns.Validate(rows, imageBytes, SchemaName);
        return ArrowIpc.Write(Schema(imageBytes), SampleColumns.Arrays(rows, imageBytes).ToList(), rows.Count);
    }

    public static IReadOnlyList<SampleRow> Read(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, SchemaName);
        try
        {
            ArrowContract.RequireSchemaName(schema, SchemaName);
            SampleColumns.RequireColumns(schema, SchemaName);
            return batches.SelectMany(b => SampleColumns.ReadRows(b, SchemaName)).ToList();
        }
        finally
        {
            foreach (var b in batches) b.Dispose();
        }
    }
}
