using System.Globalization;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Config;

namespace Distill.Models.Reference;

/// <summary>What a model directory holds, from its config.json (and the headers of its weights, when present):
/// architecture, sizes and parameter counts (total and activated per token, by part), as <c>distill model info</c>
/// prints them. Needs no weights.</summary>
public static class ModelSummary
{
    public static IReadOnlyList<string> Describe(string directory)
    {
        var config = Checkpoint.ReadConfig(directory);
        var lines = new List<string> { $"model directory: {Path.GetFullPath(directory)}" };
        ParameterBreakdown counts;
        if (config.Vlm is { } vlm)
        {
            var v = vlm.Vision;
            lines.Add($"architecture: LlavaForConditionalGeneration (llava), text {HfConfigJson.ExportedType(vlm.Text)}, vision {v.ModelType}");
            lines.Add($"vision tower: image {v.ImageSize}x{v.ImageSize}, patch {v.PatchSize} ({v.NumPatches} patches{(v.HasClassToken ? " + class token" : "")}), " +
                      $"hidden {v.HiddenSize}, {v.Layers} layers x {v.Heads} heads, intermediate {v.IntermediateSize}, {v.HiddenAct}");
            lines.Add($"image features: hidden_states[{vlm.VisionFeatureLayer}] ({vlm.VisionLayersUsed} of {v.Layers} layers run), strategy {vlm.VisionFeatureSelectStrategy}: " +
                      $"{vlm.ImageFeatures} per image, image token {vlm.ImageTokenId}; projector {v.HiddenSize} -> {vlm.Text.HiddenSize} ({vlm.ProjectorHiddenAct})");
            lines.Add(TextLine(vlm.Text));
            counts = ParameterAccounting.Count(vlm);
        }
        else
        {
            lines.Add($"architecture: {config.ModelType} causal LM");
            lines.Add(TextLine(config.Text!));
            counts = ParameterAccounting.Count(config.Text!);
        }
        var text = config.Decoder;
        if (text.Moe is { } moe)
            lines.Add($"MoE: {moe.Experts} experts, top-{moe.TopK}, on layers {string.Join(",", moe.LayerIndices(text.Layers))}");
        if (text.Mod is { } mod)
            lines.Add($"MoD: layers {string.Join(",", mod.Layers)}, skip ratio {mod.SkipRatio}, prefill threshold {mod.PrefillThreshold}");
        lines.Add($"parameters: {N(counts.Total)} total ({(config.IsLlava ? $"vision tower {N(counts.VisionTower)}, projector {N(counts.Projector)}, " : "")}language model {N(counts.Decoder)}); " +
                  $"{N(counts.Activated)} activated per token");
        lines.Add(WeightsLine(directory));
        var g = config.Generation;
        lines.Add($"generation: bos {g.BosTokenId?.ToString(CultureInfo.InvariantCulture) ?? "-"}, eos {(g.EosTokenIds.Count == 0 ? "-" : string.Join(",", g.EosTokenIds))}, pad {g.PadTokenId?.ToString(CultureInfo.InvariantCulture) ?? "-"}");
        return lines;
    }

    private static string TextLine(DecoderConfig t) =>
        $"language model: {t.ModelType}, vocab {t.VocabSize}, hidden {t.HiddenSize}, {t.Layers} layers, {t.Heads} heads / {t.KvHeads} kv heads of {t.HeadDim}, " +
        $"intermediate {t.IntermediateSize}, rope theta {t.RopeTheta.ToString(CultureInfo.InvariantCulture)}" +
        (t.RopeScaling is { } r ? $" ({r.Type} x{r.Factor.ToString(CultureInfo.InvariantCulture)})" : "") +
        $", max positions {t.MaxPositions}" + (t.SlidingWindow is { } w ? $", sliding window {w}" : "") +
        (t.QkvBias ? ", q/k/v biases" : "") + (t.TieWordEmbeddings ? ", tied embeddings" : "");

    private static string WeightsLine(string directory)
    {
        try
        {
            using var files = CheckpointFiles.Open(directory);
            var dtypes = files.Tensors.Values.GroupBy(t => t.DType).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} x{g.Count()}");
            return $"weights: {files.Files.Count} file(s), {files.Tensors.Count} tensors, {files.TotalBytes / 1e6:F1} MB ({string.Join(", ", dtypes)})";
        }
        catch (FileNotFoundException)
        {
            return "weights: none (config.json only)";
        }
    }

    private static string N(long count) => count.ToString("N0", CultureInfo.InvariantCulture);
}
