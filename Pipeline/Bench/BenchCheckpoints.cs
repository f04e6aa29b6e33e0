using Distill.Models.Config;

namespace Distill.Pipeline.Bench;

/// <summary>The random Hugging Face checkpoints the benches write: Llama configurations of a known size.</summary>
public static class BenchCheckpoints
{
    /// <summary>Names accepted by <c>--checkpoint</c>, with <c>none</c> to skip the section.</summary>
    public static IReadOnlyList<string> Names { get; } = ["1b", "100m", "tiny", "none"];

    /// <summary>The configuration of a size: <c>1b</c> is TinyLlama-1.1B's (1,100,048,384 parameters: d 2048, 22
    /// layers, 32 heads, 4 KV heads, FFN 5632, vocabulary 32000), <c>100m</c> a Llama of 105,788,160 (d 768, 8 layers,
    /// 12 heads, FFN 2048, vocabulary 32000), <c>tiny</c> one of a few hundred thousand for tests; null for
    /// <c>none</c>.</summary>
    public static DecoderConfig? Config(string name) => name switch
    {
        "1b" => new DecoderConfig(VocabSize: 32000, HiddenSize: 2048, IntermediateSize: 5632, Layers: 22, Heads: 32, KvHeads: 4,
            MaxPositions: 2048, RopeTheta: 10000, RmsNormEps: 1e-5),
        "100m" => new DecoderConfig(VocabSize: 32000, HiddenSize: 768, IntermediateSize: 2048, Layers: 8, Heads: 12, KvHeads: 12,
            MaxPositions: 2048, RopeTheta: 10000, RmsNormEps: 1e-5),
        "tiny" => new DecoderConfig(VocabSize: 512, HiddenSize: 64, IntermediateSize: 172, Layers: 2, Heads: 4, KvHeads: 2,
            MaxPositions: 512, RopeTheta: 10000, RmsNormEps: 1e-5),
        "none" => null,
        _ => throw new ArgumentException($"--checkpoint: '{name}' is not allowed; allowed: {string.Join(", ", Names)}."),
    };

    /// <summary>A fresh folder under the system temp directory for the bench's checkpoints (the caller deletes it).</summary>
    public static string TempDirectory()
    {
        var dir = Path.Combine(Path.GetTempPath(), $"distill-bench-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }
}
