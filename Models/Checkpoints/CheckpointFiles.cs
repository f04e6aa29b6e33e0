using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Checkpoints;

/// <summary>One tensor of a checkpoint as stored: its safetensors dtype name (F32, BF16, ..., also F8_E4M3, U32, F4
/// and the like, which <see cref="CheckpointFiles.ReadInto"/> refuses), its shape, the file that holds it and where
/// its bytes are in that file.</summary>
public sealed record StoredTensor(string Name, string DType, long[] Shape, string File, long Offset, long ByteCount)
{
    public long ElementCount => Shape.Aggregate(1L, (a, d) => a * d);

    /// <summary>The dtype and shape as a message shows them: <c>BF16[4096,11008]</c>.</summary>
    public string Describe() => $"{DType}[{string.Join(",", Shape)}]";
}

/// <summary>The weights of a model directory, as Hugging Face lays them out: one <c>model.safetensors</c>, or a
/// <c>model.safetensors.index.json</c> (<c>{"metadata": {...}, "weight_map": {tensor: shard file}}</c>) and its shards.
/// <see cref="Open"/> reads and checks every header (and the index against the shards) before any tensor data is read,
/// and refuses, naming the file: a missing file or shard, malformed JSON (with line and position), a shard path outside
/// the directory, a tensor in two shards, a shard that lacks a tensor the index gives it or holds one the index does
/// not, and a truncated file. The files stay open until <see cref="Dispose"/>.
/// <para><see cref="ReadInto"/> streams one stored tensor from its file into an existing tensor: straight into the
/// target's storage when it is a contiguous CPU tensor of the stored dtype, else through one staging chunk of at most
/// <see cref="SafeTensors.ChunkBytes"/> (a contiguous target on any device, converting float dtypes) or one staging
/// tensor (a strided target). A checkpoint is never held twice: beyond the targets, memory is bounded by one tensor.</para>
/// <para>Thread-safety: <see cref="ReadInto"/> calls are serialised by a lock (the staging chunk is shared), so several
/// threads may call it but they read one at a time; <see cref="Dispose"/> must not race with a read.</para>
/// <para>Measured (2 cores, 1 GB F32 / 0.5 GB BF16 files, median of 3): TorchSharp.PyBridge 1.4.4's load_safetensors, which
/// reads the whole file into new tensors and then copies them, took 0.5-3 s and +0.5-1 GB peak RSS; this reader 0.06-0.13 s
/// warm and +7-40 MB. A memory-mapped copy was no faster and maps the whole file into RSS: positioned reads it is.</para></summary>
public sealed class CheckpointFiles : IDisposable
{
    public const string SingleFile = "model.safetensors";
    public const string IndexFile = "model.safetensors.index.json";

    private readonly Dictionary<string, FileStream> _files;
    private readonly object _gate = new();
    private Tensor? _staging;
    private bool _disposed;

    private CheckpointFiles(string source, Dictionary<string, FileStream> files, Dictionary<string, StoredTensor> tensors,
        IReadOnlyDictionary<string, string> metadata)
    {
        Source = source;
        _files = files;
        Tensors = tensors;
        Metadata = metadata;
        TotalBytes = tensors.Values.Sum(t => t.ByteCount);
    }

    /// <summary>The file that was opened: the single <c>model.safetensors</c>, or the index.</summary>
    public string Source { get; }

    /// <summary>Every stored tensor by name.</summary>
    public IReadOnlyDictionary<string, StoredTensor> Tensors { get; }

    /// <summary>The single file's header metadata (<c>{"format": "pt"}</c> as transformers writes it), or the index's
    /// <c>metadata</c> (<c>total_size</c>, ...; a value that is not a JSON string is given as its JSON text).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The bytes of tensor data over all files.</summary>
    public long TotalBytes { get; }

    /// <summary>The safetensors files behind <see cref="Tensors"/> (full paths).</summary>
    public IReadOnlyCollection<string> Files => _files.Keys;

    /// <summary>Opens a model directory's weights: <c>model.safetensors</c> when it exists (as transformers prefers it),
    /// else <c>model.safetensors.index.json</c> and its shards.</summary>
    public static CheckpointFiles Open(string directory)
    {
        var full = Path.GetFullPath(directory);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"{full}: checkpoint directory not found.");
        var single = Path.Combine(full, SingleFile);
        if (File.Exists(single)) return OpenFile(single);
        var index = Path.Combine(full, IndexFile);
        if (File.Exists(index)) return OpenIndex(index);
        throw new FileNotFoundException($"{full}: no checkpoint weights: neither {SingleFile} nor {IndexFile} is there.", single);
    }

    /// <summary>Opens one safetensors file.</summary>
    public static CheckpointFiles OpenFile(string path)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"{full}: checkpoint weights not found.", full);
        var stream = SafeTensors.OpenRead(full);
        try
        {
            var (infos, metadata, dataStart) = SafeTensors.ReadHeader(stream, full);
            var tensors = infos.ToDictionary(i => i.Name, i => Stored(i, full, dataStart));
            return new CheckpointFiles(full, new Dictionary<string, FileStream> { [full] = stream }, tensors, metadata);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    private static StoredTensor Stored(SafeTensorInfo info, string file, long dataStart) =>
        new(info.Name, info.DType, info.Shape, file, dataStart + info.Begin, info.End - info.Begin);

    private static CheckpointFiles OpenIndex(string indexPath)
    {
        var directory = Path.GetDirectoryName(indexPath)!;
        var (weightMap, metadata) = ReadIndex(indexPath);

        // Every shard the index names: inside the directory, present.
        var shardPaths = new Dictionary<string, string>(StringComparer.Ordinal);   // index value -> full path
        foreach (var (tensor, shard) in weightMap)
        {
            if (shardPaths.ContainsKey(shard)) continue;
            var shardPath = Path.GetFullPath(Path.Combine(directory, shard));
            if (Path.IsPathRooted(shard) || !shardPath.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                throw new InvalidDataException($"{indexPath}: shard '{shard}' (of tensor '{tensor}') is outside the checkpoint directory {directory}.");
            if (!File.Exists(shardPath))
                throw new FileNotFoundException($"{indexPath}: shard '{shard}' (of tensor '{tensor}') not found: {shardPath}.", shardPath);
            shardPaths[shard] = shardPath;
        }

        var files = new Dictionary<string, FileStream>(StringComparer.Ordinal);
        try
        {
            var tensors = new Dictionary<string, StoredTensor>(StringComparer.Ordinal);
            foreach (var (shard, shardPath) in shardPaths)
            {
                if (files.ContainsKey(shardPath)) continue;   // two spellings of one file ("a", "./a")
                var stream = SafeTensors.OpenRead(shardPath);
                files[shardPath] = stream;
                var (infos, _, dataStart) = SafeTensors.ReadHeader(stream, shardPath);
                foreach (var info in infos)
                {
                    if (tensors.TryGetValue(info.Name, out var other))
                        throw new InvalidDataException(
                            $"{indexPath}: tensor '{info.Name}' is in two shards: {Path.GetFileName(other.File)} and {Path.GetFileName(shardPath)}.");
                    tensors[info.Name] = Stored(info, shardPath, dataStart);
                }
            }
            foreach (var stored in tensors.Values)
            {
                if (!weightMap.TryGetValue(stored.Name, out var listed))
                    throw new InvalidDataException(
                        $"{stored.File}: holds tensor '{stored.Name}', which {indexPath} does not list.");
                if (shardPaths[listed] != stored.File)
                    throw new InvalidDataException(
                        $"{stored.File}: holds tensor '{stored.Name}', which {indexPath} assigns to {listed}.");
            }
            foreach (var (name, shard) in weightMap)
                if (!tensors.ContainsKey(name))
                    throw new InvalidDataException(
                        $"{shardPaths[shard]}: lacks tensor '{name}', which {indexPath} assigns to it.");
            return new CheckpointFiles(indexPath, files, tensors, metadata);
        }
        catch
        {
            foreach (var f in files.Values) f.Dispose();
            throw;
        }
    }

    /// <summary>Parses the index: its weight_map (tensor -> shard file name) and metadata.</summary>
    private static (Dictionary<string, string> WeightMap, Dictionary<string, string> Metadata) ReadIndex(string path)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllBytes(path));
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"{path}: malformed JSON at line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}: {e.Message}", e);
        }
        string Bad(string why) => $"{path}: bad checkpoint index: {why}.";
        try
        {
            if (root is not JsonObject index) throw new InvalidDataException(Bad("not a JSON object"));
            if (index["weight_map"] is not JsonObject map) throw new InvalidDataException(Bad("no \"weight_map\" object"));
            var weightMap = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (name, node) in map)
            {
                if (node is not JsonValue value || !value.TryGetValue<string>(out var shard) || shard.Length == 0)
                    throw new InvalidDataException(Bad($"weight_map entry '{name}' is not a file name"));
                weightMap[name] = shard;
            }
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            if (index["metadata"] is JsonObject meta)
                foreach (var (key, node) in meta)
                    metadata[key] = node is JsonValue v && v.TryGetValue<string>(out var s) ? s : node?.ToJsonString() ?? "null";
            else if (index["metadata"] is not null)
                throw new InvalidDataException(Bad("\"metadata\" is not an object"));
            return (weightMap, metadata);
        }
        catch (ArgumentException e)   // a key twice in one object
        {
            throw new InvalidDataException(Bad(e.Message), e);
        }
    }

    /// <summary>Reads stored tensor <paramref name="name"/> into <paramref name="target"/>, which must have its shape.
    /// Float data (F16, BF16, F32, F64) are converted to the target's float dtype as torch converts them (round to
    /// nearest even when narrowing); integer and bool data are copied exactly, into a target of the same dtype only.
    /// The target may be on any device and strided. Throws <see cref="InvalidDataException"/> naming the tensor, the
    /// stored dtype and shape and the target's for a shape mismatch or an unsupported dtype or conversion.</summary>
    public void ReadInto(string name, Tensor target)
    {
        ArgumentNullException.ThrowIfNull(target);
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (!Tensors.TryGetValue(name, out var stored))
                throw new KeyNotFoundException($"{Source}: no tensor '{name}'.");
            var type = Check(stored, target);
            if (stored.ElementCount == 0) return;
            var file = _files[stored.File].SafeFileHandle;
            using var noGrad = torch.no_grad();
            if (target.is_contiguous() && target.device_type == DeviceType.CPU && target.dtype == type)
            {
                SafeTensors.ReadData(file, stored.Offset, target, stored.File, name);
            }
            else if (target.is_contiguous())
            {
                // Chunk by chunk through one staging chunk of the stored dtype: copy_ converts and moves it.
                var staging = Staging(type, stored.ElementCount);
                var perChunk = staging.numel();
                var elementSize = staging.ElementSize;
                using var flat = target.view(-1);
                for (long start = 0; start < stored.ElementCount; start += perChunk)
                {
                    var count = Math.Min(perChunk, stored.ElementCount - start);
                    using var part = staging.narrow(0, 0, count);
                    SafeTensors.ReadData(file, stored.Offset + start * elementSize, part, stored.File, name);
                    using var into = flat.narrow(0, start, count);
                    into.copy_(part);
                }
            }
            else
            {
                using var whole = torch.empty(stored.Shape, type);
                SafeTensors.ReadData(file, stored.Offset, whole, stored.File, name);
                target.copy_(whole);
            }
        }
    }

    private static readonly ScalarType[] FloatTypes =
        [ScalarType.Float16, ScalarType.BFloat16, ScalarType.Float32, ScalarType.Float64];

    /// <summary>The torch dtype the stored tensor is read as, after checking it fits the target.</summary>
    private ScalarType Check(StoredTensor stored, Tensor target)
    {
        string Mismatch(string why) =>
            $"{stored.File}: tensor '{stored.Name}': {why}: file {stored.Describe()}, target {TargetDTypeName(target.dtype)}[{string.Join(",", target.shape)}].";
        if (!stored.Shape.SequenceEqual(target.shape)) throw new InvalidDataException(Mismatch("shape mismatch"));
        var type = SafeTensors.TryScalarTypeOf(stored.DType)
                   ?? throw new InvalidDataException(Mismatch($"unsupported dtype {stored.DType}"));
        var converts = FloatTypes.Contains(type) && FloatTypes.Contains(target.dtype);
        if (type != target.dtype && !converts)
            throw new InvalidDataException(Mismatch("unsupported conversion (only float dtypes convert; integer and bool must match)"));
        return type;
    }

    private static string TargetDTypeName(ScalarType type)
    {
        try { return SafeTensors.DTypeName(type); }
        catch (NotSupportedException) { return type.ToString(); }
    }

    /// <summary>The staging chunk for a read of <paramref name="elements"/> elements of <paramref name="type"/>: kept
    /// between reads (a fresh allocation would fault its pages in again every time), at most
    /// <see cref="SafeTensors.ChunkBytes"/>, replaced when the dtype changes so only one is ever held.</summary>
    private Tensor Staging(ScalarType type, long elements)
    {
        using var probe = torch.empty(0, type);
        var wanted = Math.Min(elements, Math.Max(1, SafeTensors.ChunkBytes / probe.ElementSize));
        if (_staging is not null && _staging.dtype == type && _staging.numel() >= wanted) return _staging;
        _staging?.Dispose();
        _staging = null;
        _staging = torch.empty(wanted, type);
        return _staging;
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _staging?.Dispose();
            foreach (var f in _files.Values) f.Dispose();
        }
    }
}
