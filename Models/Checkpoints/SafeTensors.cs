using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
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

    private static readonly Dictionary<string, (ScalarType Type, int Size)> ByName = new()
    {
        ["F64"] = (ScalarType.Float64, 8), ["F32"] = (ScalarType.Float32, 4), ["F16"] = (ScalarType.Float16, 2),
        ["BF16"] = (ScalarType.BFloat16, 2), ["I64"] = (ScalarType.Int64, 8), ["I32"] = (ScalarType.Int32, 4),
        ["I16"] = (ScalarType.Int16, 2), ["I8"] = (ScalarType.Int8, 1), ["U8"] = (ScalarType.Byte, 1),
        ["BOOL"] = (ScalarType.Bool, 1),
    };

    /// <summary>The safetensors dtype name of a torch dtype (F32, F16, BF16, I64, ...).</summary>
    public static string DTypeName(ScalarType type) =>
        ByName.FirstOrDefault(kv => kv.Value.Type == type).Key
        ?? throw new NotSupportedException($"dtype {type} has no safetensors name here.");

    /// <summary>The torch dtype of a safetensors dtype name.</summary>
    public static ScalarType ScalarTypeOf(string name) =>
        ByName.TryGetValue(name, out var t) ? t.Type : throw new NotSupportedException($"safetensors dtype '{name}' is not supported.");

    /// <summary>Writes the tensors (in the given order) to <paramref name="path"/>, atomically: a temp file in the
    /// same folder, then a rename.</summary>
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
            foreach (var (_, tensor) in items)
            {
                using var scope = torch.NewDisposeScope();
                stream.Write(tensor.detach().cpu().contiguous().bytes);
            }
        });
    }

    /// <summary>Reads and validates the header of a safetensors file.</summary>
    public static (IReadOnlyList<SafeTensorInfo> Tensors, IReadOnlyDictionary<string, string> Metadata, long DataStart)
        ReadHeader(string path)
    {
        using var stream = File.OpenRead(path);
        return ReadHeader(stream, path);
    }

    private static (IReadOnlyList<SafeTensorInfo>, IReadOnlyDictionary<string, string>, long) ReadHeader(FileStream stream, string path)
    {
        var fileLength = stream.Length;
        if (fileLength < 8)
            throw new InvalidDataException($"{path}: truncated safetensors file ({fileLength} bytes, no header length).");
        Span<byte> lengthBytes = stackalloc byte[8];
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
        }
        catch (JsonException e)
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
            if (!ByName.TryGetValue(dtype, out var type)) throw new InvalidDataException(Bad($"unsupported dtype '{dtype}'"));
            var shape = (entry["shape"] as JsonArray ?? throw new InvalidDataException(Bad("no shape")))
                .Select(d => d!.GetValue<long>()).ToArray();
            if (shape.Any(d => d < 0)) throw new InvalidDataException(Bad("negative dimension"));
            var offsets = entry["data_offsets"] as JsonArray;
            if (offsets is null || offsets.Count != 2) throw new InvalidDataException(Bad("data_offsets must be [begin, end]"));
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            var expected = shape.Aggregate(1L, (a, d) => a * d) * type.Size;
            if (begin < 0 || end < begin || end - begin != expected)
                throw new InvalidDataException(Bad($"data_offsets [{begin},{end}] do not hold {expected} bytes of {dtype}[{string.Join(",", shape)}]"));
            if (end > dataLength)
                throw new InvalidDataException(
                    $"{path}: truncated safetensors file: tensor '{name}' ends at byte {end} of the data but only {dataLength} bytes are present.");
            return new SafeTensorInfo(name, dtype, shape, begin, end);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or JsonException)
        {
            throw new InvalidDataException(Bad(e.Message), e);
        }
    }

    /// <summary>Reads every tensor of a safetensors file (CPU tensors, dtypes as stored).</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors reader needs a little-endian host.");
        using var stream = File.OpenRead(path);
        var (infos, _, dataStart) = ReadHeader(stream, path);
        var result = new Dictionary<string, Tensor>();
        try
        {
            foreach (var info in infos)
            {
                var bytes = new byte[info.End - info.Begin];
                stream.Position = dataStart + info.Begin;
                stream.ReadExactly(bytes);
                var tensor = torch.empty(info.Shape, ScalarTypeOf(info.DType));
                if (bytes.Length > 0) tensor.bytes = bytes;
                result[info.Name] = tensor;
            }
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
        return result;
    }
}
