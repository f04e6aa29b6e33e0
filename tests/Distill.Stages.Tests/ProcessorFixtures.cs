using System.Text.Json;

namespace Distill.Stages.Tests;

/// <summary>tests/fixtures/hf-generated/processors: test images and what transformers 4.40's image processors made of
/// them (see that folder's README). Read without TorchSharp: the safetensors header and raw little-endian data.</summary>
internal static class ProcessorFixtures
{
    public static string Root { get; } = Path.Combine(RepositoryRoot(), "tests", "fixtures", "hf-generated", "processors");

    public static string Image(string name) => Path.Combine(Root, "images", name);

    public static string Config(string name) => Path.Combine(Root, "configs", name);

    /// <summary>One processor case of cases.json: image file, config folder, LLaVA pad mode, output shape [3,H,W].</summary>
    public sealed record Case(string Name, string Image, string Config, bool Pad, int[] Shape);

    public static IReadOnlyList<Case> Cases { get; } = ReadCases();

    /// <summary>Raw tensors of expected.safetensors by name: (dtype, shape, bytes).</summary>
    public static IReadOnlyDictionary<string, (string DType, int[] Shape, byte[] Data)> Tensors { get; } = ReadTensors();

    /// <summary>transformers' decoded image ([H,W,3] uint8) of an image file ("decoded/" or "raw16/").</summary>
    public static (int[] Shape, byte[] Rgb) Decoded(string key) => Tensors[key] is var t && t.DType == "U8" ? (t.Shape, t.Data) : throw new InvalidDataException(key);

    /// <summary>transformers' pixel_values[0] ([3,H,W] float32) of a case.</summary>
    public static float[] Pixels(string caseName)
    {
        var t = Tensors["pixels/" + caseName];
        var values = new float[t.Data.Length / 4];
        Buffer.BlockCopy(t.Data, 0, values, 0, t.Data.Length);
        return values;
    }

    private static IReadOnlyList<Case> ReadCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "cases.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("case").GetString()!, c.GetProperty("image").GetString()!, c.GetProperty("config").GetString()!,
            c.GetProperty("pad").GetBoolean(), c.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray())).ToList();
    }

    private static IReadOnlyDictionary<string, (string, int[], byte[])> ReadTensors()
    {
        var bytes = File.ReadAllBytes(Path.Combine(Root, "expected.safetensors"));
        int headerLength = checked((int)BitConverter.ToInt64(bytes, 0));
        using var header = JsonDocument.Parse(bytes.AsMemory(8, headerLength));
        var result = new Dictionary<string, (string, int[], byte[])>();
        foreach (var t in header.RootElement.EnumerateObject())
        {
            if (t.Name == "__metadata__") continue;
            var offsets = t.Value.GetProperty("data_offsets").EnumerateArray().Select(o => o.GetInt32()).ToArray();
            result[t.Name] = (t.Value.GetProperty("dtype").GetString()!,
                t.Value.GetProperty("shape").EnumerateArray().Select(d => d.GetInt32()).ToArray(),
                bytes.AsSpan(8 + headerLength + offsets[0], offsets[1] - offsets[0]).ToArray());
        }
        return result;
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }
}
