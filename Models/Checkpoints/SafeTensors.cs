using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Win32.SafeHandles;
using Distill.Models.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Checkpoints;

/// <summary>One tensor entry of a safetensors header.</summary>
public sealed record SafeTensorInfo(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>Reader and writer for the safetensors format: an 8-byte little-endian header length, a JSON header
/// <c>{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {string: string}}</c> (offsets relative
/// to the end of the header), then the raw little-endian tensor bytes. The header is padded with spaces to a
/// multiple of 8 bytes.</summary>
public static class SafeTensors
{
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    /// <summary>Bytes read or written per native call when a tensor is streamed (a view of at most this many bytes;
    /// TorchSharp's <c>Tensor.bytes</c> span is limited to 2 GiB, and a conversion stages one such chunk).</summary>
    internal const long ChunkBytes = 32L * 1024 * 1024;

    /// <summary>Every dtype name of the safetensors format, with its size in bits and the torch dtype it is read as
    /// here (none for 8-bit floats, sub-byte floats and unsigned integers wider than a byte: a header that uses them
    /// still parses, so a caller can refuse a quantised checkpoint by name).</summary>
    private static readonly Dictionary<string, (int Bits, ScalarType? Type)> Known = new()
    {
        ["F64"] = (64, ScalarType.Float64), ["F32"] = (32, ScalarType.Float32), ["F16"] = (16, ScalarType.Float16),
        ["BF16"] = (16, ScalarType.BFloat16), ["I64"] = (64, ScalarType.Int64), ["I32"] = (32, ScalarType.Int32),
        ["I16"] = (16, ScalarType.Int16), ["I8"] = (8, ScalarType.Int8), ["U8"] = (8, ScalarType.Byte),
        ["BOOL"] = (8, ScalarType.Bool), ["C64"] = (64, ScalarType.ComplexFloat32),
        ["U64"] = (64, null), ["U32"] = (32, null), ["U16"] = (16, null),
        ["F8_E4M3"] = (8, null), ["F8_E5M2"] = (8, null), ["F8_E8M0"] = (8, null),
        ["F6_E2M3"] = (6, null), ["F6_E3M2"] = (6, null), ["F4"] = (4, null),
    };

    /// <summary>The safetensors dtype name of a torch dtype (F32, F16, BF16, I64, ...).</summary>
    public static string DTypeName(ScalarType type) =>
        Known.FirstOrDefault(kv => kv.Value.Type == type).Key
        ?? throw new NotSupportedException($"dtype {type} has no safetensors name here.");

    /// <summary>The torch dtype of a safetensors dtype name.</summary>
    public static ScalarType ScalarTypeOf(string name) =>
        TryScalarTypeOf(name) ?? throw new NotSupportedException($"safetensors dtype '{name}' is not supported.");

    /// <summary>The torch dtype of a safetensors dtype name, or null for a name with no torch dtype here (F8_E4M3,
    /// U32, F4, ...) or an unknown name.</summary>
    public static ScalarType? TryScalarTypeOf(string name) => Known.TryGetValue(name, out var t) ? t.Type : null;

    /// <summary>Writes the tensors (in the given order) to <paramref name="path"/>, atomically: a temp file in the
    /// same folder, then a rename. The data are streamed one tensor at a time: a contiguous CPU tensor straight from
    /// its storage, any other (another device, a strided view) through a contiguous CPU copy of that one tensor.</summary>
    public static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors writer needs a little-endian host.");
        var items = tensors.ToList();
        var duplicate = items.GroupBy(i => i.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"tensor name '{duplicate.Key}' appears twice.");

        var header = new JsonObject();
        if (metadata is not null)
        {
            var meta = new JsonObject();
            foreach (var (k, v) in metadata) meta[k] = v;
            header["__metadata__"] = meta;
        }
        long offset = 0;
        foreach (var (name, tensor) in items)
        {
            var size = tensor.numel() * tensor.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = DTypeName(tensor.dtype),
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + size),
            };
            offset += size;
        }
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = (json.Length + 7) / 8 * 8;

        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthBytes = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthBytes, (ulong)padded);
            stream.Write(lengthBytes);
            stream.Write(json);
            for (var i = json.Length; i < padded; i++) stream.WriteByte((byte)' ');
            foreach (var (_, tensor) in items) WriteData(stream, tensor);
        });
    }

    /// <summary>Reads and validates the header of a safetensors file.</summary>
    public static (IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart)
        ReadHeader(string path)
    {
        using var stream = OpenRead(path);
        return ReadHeader(stream, path);
    }

    /// <summary>Reads and validates the header of an open safetensors file (from its start).</summary>
    internal static (IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart)
        ReadHeader(FileStream stream, string path)
    {
        var fileLength = stream.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{path}: truncated safetensors file ({fileLength} bytes, no header length).");
        Span<byte> lengthBytes = stackalloc byte[8];
        stream.Position = 0;
        stream.ReadExactly(lengthBytes);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes);
        if (headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: bad safetensors header: header length {headerLength} is implausible.");
        if (8 + (long)headerLength > fileLength)
            throw new InvalidDataException(
                $"{path}: truncated safetensors file: header of {headerLength} bytes but the file has {fileLength} bytes.");
        var headerBytes = new byte[headerLength];
        stream.ReadExactly(headerBytes);

        JsonObject header;
        try
        {
            header = JsonNode.Parse(headerBytes) as JsonObject
                     ?? throw new InvalidDataException($"{path}: bad safetensors header: not a JSON object.");
            _ = header.Count;   // JsonObject finds a name given twice when it is first enumerated
        }
        catch (Exception e) when (e is JsonException or ArgumentException)
        {
            throw new InvalidDataException($"{path}: bad safetensors header: {e.Message}", e);
        }

        var dataStart = 8 + (long)headerLength;
        var dataLength = fileLength - dataStart;
        var metadata = new Dictionary<string, string>();
        var tensors = new List<SafeTensorInfo>();
        foreach (var (name, node) in header)
        {
            if (name == "__metadata__")
            {
                if (node is JsonObject meta)
                    foreach (var (k, v) in meta)
                        metadata[k] = v is JsonValue value && value.TryGetValue<string>(out var s)
                            ? s : throw new InvalidDataException($"{path}: bad safetensors header: metadata '{k}' is not a string.");
                continue;
            }
            tensors.Add(ParseEntry(path, name, node, dataLength));
        }
        return (tensors, metadata, dataStart);
    }

    private static SafeTensorInfo ParseEntry(string path, string name, JsonNode? node, long dataLength)
    {
        string Bad(string why) => $"{path}: bad safetensors header for tensor '{name}': {why}.";
        try
        {
            if (node is not JsonObject entry) throw new InvalidDataException(Bad("entry is not an object"));
            var dtype = entry["dtype"]?.GetValue<string>() ?? throw new InvalidDataException(Bad("no dtype"));
            if (!Known.TryGetValue(dtype, out var type)) throw new InvalidDataException(Bad($"unsupported dtype '{dtype}'"));
            var shape = (entry["shape"] as JsonArray ?? throw new InvalidDataException(Bad("no shape")))
                .Select(d => d!.GetValue<long>()).ToArray();
            if (shape.Any(d => d < 0)) throw new InvalidDataException(Bad("negative dimension"));
            var offsets = entry["data_offsets"] as JsonArray;
            if (offsets is null || offsets.Count != 2) throw new InvalidDataException(Bad("data_offsets must be [begin, end]"));
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            var bits = checked(shape.Aggregate(1L, (a, d) => checked(a * d)) * type.Bits);
            if (bits % 8 != 0) throw new InvalidDataException(Bad($"{dtype}[{string.Join(",", shape)}] is not a whole number of bytes"));
            var expected = bits / 8;
            if (begin < 0 || end < begin || end - begin != expected)
                throw new InvalidDataException(Bad($"data_offsets [{begin},{end}] do not hold {expected} bytes of {dtype}[{string.Join(",", shape)}]"));
            if (end > dataLength)
                throw new InvalidDataException(
                    $"{path}: truncated safetensors file: tensor '{name}' ends at byte {end} of the data but only {dataLength} bytes are present.");
            return new SafeTensorInfo(name, dtype, shape, begin, end);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException or OverflowException)
        {
            throw new InvalidDataException(Bad(e.Message), e);
        }
    }

    /// <summary>Reads every tensor of a safetensors file (CPU tensors, dtypes as stored). Each tensor's bytes are read
    /// from the file straight into its storage (no second copy of the file in memory).</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reader needs a little-endian host.");
        using var stream = OpenRead(path);
        var (infos, _, dataStart) = ReadHeader(stream, path);
        foreach (var info in infos)
            if (TryScalarTypeOf(info.DType) is null)
                throw new InvalidDataException($"{path}: tensor '{info.Name}' has dtype {info.DType}, which has no torch dtype here.");
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var info in infos)
            {
                var tensor = torch.empty(info.Shape, ScalarTypeOf(info.DType));
                result[info.Name] = tensor;
                ReadData(stream.SafeFileHandle, dataStart + info.Begin, tensor, path, info.Name);
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }

    /// <summary>Opens a file for header parsing and positioned reads (no read-ahead buffer of its own).</summary>
    internal static FileStream OpenRead(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);

    /// <summary>Fills a contiguous CPU tensor with the <c>numel * element size</c> bytes of the file at
    /// <paramref name="offset"/>, read in chunks straight into the tensor's storage.</summary>
    internal static void ReadData(SafeFileHandle file, long offset, Tensor target, string path, string name)
    {
        if (!target.is_contiguous() || target.device_type != DeviceType.CPU)
            throw new ArgumentException("ReadData needs a contiguous CPU tensor.", nameof(target));
        var total = target.numel();
        if (total == 0) return;
        var elementSize = target.ElementSize;
        var perChunk = Math.Max(1, ChunkBytes / elementSize);
        using var flat = target.view(-1);
        for (long start = 0; start < total; start += perChunk)
        {
            var count = Math.Min(perChunk, total - start);
            using var chunk = flat.narrow(0, start, count);
            ReadExactly(file, offset + start * elementSize, chunk.bytes, path, name);
        }
    }

    /// <summary>Reads exactly <c>into.Length</c> bytes at <paramref name="offset"/>; a file that ends first (it shrank
    /// after its header was checked) is reported as truncated.</summary>
    internal static void ReadExactly(SafeFileHandle file, long offset, Span<byte> into, string path, string name)
    {
        while (into.Length > 0)
        {
            var n = RandomAccess.Read(file, into, offset);
            if (n == 0)
                throw new InvalidDataException($"{path}: truncated safetensors file: the data of tensor '{name}' end before byte {offset + into.Length}.");
            into = into[n..];
            offset += n;
        }
    }

    /// <summary>Writes a tensor's bytes (row-major, little-endian) in chunks: straight from the storage of a contiguous
    /// CPU tensor, else from a contiguous CPU copy of this one tensor.</summary>
    internal static void WriteData(Stream stream, Tensor tensor)
    {
        var total = tensor.numel();
        if (total == 0) return;
        using var detached = tensor.detach();
        var copy = detached.device_type == DeviceType.CPU && detached.is_contiguous() ? null : detached.cpu().contiguous();
        try
        {
            var source = copy ?? detached;
            var elementSize = source.ElementSize;
            var perChunk = Math.Max(1, ChunkBytes / elementSize);
            using var flat = source.view(-1);
            for (long start = 0; start < total; start += perChunk)
            {
                using var chunk = flat.narrow(0, start, Math.Min(perChunk, total - start));
                stream.Write(chunk.bytes);
            }
        }
        finally
        {
            copy?.Dispose();
        }
    }
}
