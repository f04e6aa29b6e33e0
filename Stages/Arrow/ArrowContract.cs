using Apache.Arrow;
using Apache.Arrow.Types;

namespace Distill.Stages.Arrow;

/// <summary>Schema checks shared by the readers of every contract, and the schema name of a stream.</summary>
public static class ArrowContract
{
    /// <summary>Schema metadata key holding the contract name, e.g. "samples/v1".</summary>
    public const string SchemaKey = "distill.schema";

    /// <summary>Schema metadata key naming the IPC body compression a stream is written with (<c>none</c>,
    /// <c>zstd</c>, <c>lz4</c>; absent = none), so that a stream cut into parts or joined keeps it.</summary>
    public const string CompressionKey = "distill.ipc_compression";

    /// <summary>The compression <see cref="CompressionKey"/> names (none when absent).</summary>
    internal static IpcCompression CompressionOf(Schema schema) =>
        Metadata(schema, CompressionKey) is { } name
            ? (IpcCompressions.Names.Contains(name) ? IpcCompressions.Parse(name) : throw new InvalidDataException($"schema metadata '{CompressionKey}' = '{name}' is not one of {string.Join(", ", IpcCompressions.Names)}"))
            : IpcCompression.None;

    /// <summary>The <c>distill.schema</c> of an IPC stream, or null when it has none.</summary>
    public static string? SchemaNameOf(byte[] ipc)
    {
        var (schema, batches) = ArrowIpc.Read(ipc, "a distill schema");
        foreach (var b in batches) b.Dispose();
        return Metadata(schema, SchemaKey);
    }

    internal static string? Metadata(Schema schema, string key) =>
        schema.Metadata is { } m && m.TryGetValue(key, out var v) ? v : null;

    internal static void RequireSchemaName(Schema schema, string expected)
    {
        string? found = Metadata(schema, SchemaKey);
        if (found != expected)
            throw new InvalidDataException($"expected {expected}, found {found ?? $"no '{SchemaKey}' metadata"}");
    }

    internal static string RequireMetadata(Schema schema, string key, string contract) =>
        Metadata(schema, key) is { Length: > 0 } v ? v : throw new InvalidDataException($"{contract}: missing schema metadata '{key}'");

    internal static int RequireIntMetadata(Schema schema, string key, string contract)
    {
        string v = RequireMetadata(schema, key, contract);
        return int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out int n) && n > 0
            ? n
            : throw new InvalidDataException($"{contract}: schema metadata '{key}' = '{v}' is not a positive integer");
    }

    /// <summary>The column's field; its type must be <paramref name="type"/> (for lists, also the element type).</summary>
    internal static Field RequireColumn(Schema schema, string name, ArrowTypeId type, string contract, ArrowTypeId? element = null)
    {
        var field = schema.FieldsList.FirstOrDefault(f => f.Name == name)
            ?? throw new InvalidDataException($"{contract}: missing column '{name}'");
        var t = field.DataType;
        bool ok = t.TypeId == type && (element is null || t is ListType l && l.ValueDataType.TypeId == element);
        if (!ok)
            throw new InvalidDataException(
                $"{contract}: column '{name}' has type {Describe(t)}, expected {type}{(element is null ? "" : $"<{element}>")}");
        return field;
    }

    private static string Describe(IArrowType t) => t is ListType l ? $"{t.TypeId}<{l.ValueDataType.TypeId}>" : t.TypeId.ToString();
}
