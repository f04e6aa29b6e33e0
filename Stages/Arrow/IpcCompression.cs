using Apache.Arrow.Ipc;

namespace Distill.Stages.Arrow;

/// <summary>Arrow IPC body compression of a written stream (the format's own: each buffer of a record batch is
/// compressed on its own, so any Arrow implementation with the codec reads it). Readers here always accept both
/// codecs (<see cref="ArrowIpc.Read"/>).</summary>
public enum IpcCompression
{
    None,
    /// <summary>Zstandard (CompressionType.ZSTD in the IPC format).</summary>
    Zstd,
    /// <summary>LZ4 frame (CompressionType.LZ4_FRAME).</summary>
    Lz4,
}

public static class IpcCompressions
{
    public static readonly IReadOnlyList<string> Names = ["none", "zstd", "lz4"];

    public static IpcCompression Parse(string value) => value switch
    {
        "none" => IpcCompression.None,
        "zstd" => IpcCompression.Zstd,
        "lz4" => IpcCompression.Lz4,
        _ => throw new ArgumentException($"IPC compression '{value}' is not allowed; allowed: {string.Join(", ", Names)}"),
    };

    public static string Name(this IpcCompression compression) => compression switch
    {
        IpcCompression.None => "none",
        IpcCompression.Zstd => "zstd",
        IpcCompression.Lz4 => "lz4",
        _ => throw new ArgumentOutOfRangeException(nameof(compression), compression, null),
    };

    /// <summary>Writer options for <paramref name="compression"/> (null: none).</summary>
    internal static IpcOptions? Options(this IpcCompression compression) => compression switch
    {
        IpcCompression.None => null,
        IpcCompression.Zstd => new IpcOptions { CompressionCodec = CompressionCodecType.Zstd, CompressionCodecFactory = ArrowIpc.Codecs },
        IpcCompression.Lz4 => new IpcOptions { CompressionCodec = CompressionCodecType.Lz4Frame, CompressionCodecFactory = ArrowIpc.Codecs },
        _ => throw new ArgumentOutOfRangeException(nameof(compression), compression, null),
    };
}
