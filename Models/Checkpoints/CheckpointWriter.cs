using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using Distill.Models.IO;
using static TorchSharp.torch;

namespace Distill.Models.Checkpoints;

/// <summary>Writes a model directory's weights as transformers lays them out: one <c>model.safetensors</c>, or, when
/// the tensors' bytes exceed the shard limit, shards <c>model-00001-of-00003.safetensors</c>, ... and
/// <c>model.safetensors.index.json</c> (<c>{"metadata": {"total_size": bytes}, "weight_map": {tensor: shard}}</c>, keys
/// sorted, indented by two spaces, as transformers writes it). Each file is written atomically (<see cref="AtomicFile"/>),
/// the index last; then the files of another layout a previous write left (<c>model.safetensors</c>, shards of another
/// count, the index), and only files with those names, are removed. While a directory is rewritten in the same sharded
/// layout, a reader may see new shards with the old index; <see cref="CheckpointFiles"/> refuses such a mix when the
/// shards' contents moved.</summary>
public static class CheckpointWriter
{
    /// <summary>transformers' default <c>max_shard_size</c> ("5GB", decimal).</summary>
    public const long TransformersMaxShardBytes = 5_000_000_000;

    private static readonly Regex ShardName = new(@"^model-\d{5}-of-\d{5}\.safetensors$", RegexOptions.CultureInvariant);

    /// <summary>The name transformers gives shard <paramref name="index"/> (1-based) of <paramref name="count"/>.</summary>
    public static string ShardFileName(int index, int count) => $"model-{index:D5}-of-{count:D5}.safetensors";

    /// <summary>Writes the tensors into <paramref name="directory"/>, in the given order: shards are filled in that
    /// order, a new one started when the next tensor would take the current one past
    /// <paramref name="maxShardBytes"/> (a tensor larger than the limit gets a shard of its own). The sequence is
    /// enumerated once and its tensors are referenced, not copied; each is written on its own (a tensor on another
    /// device or strided goes through a contiguous CPU copy of that tensor alone). <paramref name="metadata"/> goes
    /// into every file's header, <c>{"format": "pt"}</c> when null. Returns the file names written, the index last.</summary>
    public static IReadOnlyList<string> Write(string directory, IEnumerable<(string Name, Tensor Tensor)> tensors,
        IReadOnlyDictionary<string, string>? metadata, long maxShardBytes)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxShardBytes);
        var items = tensors.ToList();
        var duplicate = items.GroupBy(i => i.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"tensor name '{duplicate.Key}' appears twice.", nameof(tensors));
        foreach (var (_, tensor) in items) SafeTensors.DTypeName(tensor.dtype);   // refuse an unnamed dtype before writing
        metadata ??= new Dictionary<string, string> { ["format"] = "pt" };

        var shards = Plan(items, maxShardBytes);
        var full = Path.GetFullPath(directory);
        Directory.CreateDirectory(full);
        var written = new List<string>();
        if (shards.Count <= 1)
        {
            SafeTensors.Write(Path.Combine(full, CheckpointFiles.SingleFile), items, metadata);
            written.Add(CheckpointFiles.SingleFile);
        }
        else
        {
            var weightMap = new SortedDictionary<string, string>(StringComparer.Ordinal);
            for (var i = 0; i < shards.Count; i++)
            {
                var name = ShardFileName(i + 1, shards.Count);
                SafeTensors.Write(Path.Combine(full, name), shards[i], metadata);
                foreach (var (tensorName, _) in shards[i]) weightMap[tensorName] = name;
                written.Add(name);
            }
            var totalSize = items.Sum(i => Bytes(i.Tensor));
            AtomicFile.WriteAllText(Path.Combine(full, CheckpointFiles.IndexFile), IndexJson(totalSize, weightMap));
            written.Add(CheckpointFiles.IndexFile);
        }
        RemoveOtherLayouts(full, written);
        return written;
    }

    private static long Bytes(Tensor t) => t.numel() * t.ElementSize;

    private static List<List<(string Name, Tensor Tensor)>> Plan(List<(string Name, Tensor Tensor)> items, long maxShardBytes)
    {
        var shards = new List<List<(string, Tensor)>>();
        List<(string, Tensor)>? current = null;
        long currentBytes = 0;
        foreach (var item in items)
        {
            var bytes = Bytes(item.Tensor);
            if (current is null || (current.Count > 0 && currentBytes + bytes > maxShardBytes))
            {
                current = [];
                shards.Add(current);
                currentBytes = 0;
            }
            current.Add(item);
            currentBytes += bytes;
        }
        return shards;
    }

    /// <summary>The index as transformers writes it (<c>json.dumps(index, indent=2, sort_keys=True) + "\n"</c>).</summary>
    internal static string IndexJson(long totalSize, SortedDictionary<string, string> weightMap)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteStartObject("metadata");
            json.WriteNumber("total_size", totalSize);
            json.WriteEndObject();
            json.WriteStartObject("weight_map");
            foreach (var (name, file) in weightMap) json.WriteString(name, file);
            json.WriteEndObject();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()).ReplaceLineEndings("\n") + "\n";
    }

    private static void RemoveOtherLayouts(string directory, List<string> written)
    {
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            var name = Path.GetFileName(path);
            var ours = name == CheckpointFiles.SingleFile || name == CheckpointFiles.IndexFile || ShardName.IsMatch(name);
            if (ours && !written.Contains(name)) File.Delete(path);
        }
    }
}
