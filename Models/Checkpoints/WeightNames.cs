using System.Text.RegularExpressions;
using Distill.Models.Config;

namespace Distill.Models.Checkpoints;

/// <summary>How the tensor names of a checkpoint file map to the modules' names, which are transformers 4.40's
/// (<c>language_model.model.*</c>, <c>language_model.lm_head.*</c>, <c>vision_tower.*</c>,
/// <c>multi_modal_projector.*</c> for LLaVA; <c>model.*</c>, <c>lm_head.*</c> for a causal LM).
/// <para>Newer transformers save LLaVA as <c>model.language_model.*</c>, <c>model.vision_tower.*</c>,
/// <c>model.multi_modal_projector.*</c> and <c>lm_head.*</c>; such a file is read through the same map. Tensors a
/// file may hold that no module computes with are skipped (<c>rotary_emb.inv_freq</c> and <c>position_ids</c> buffers
/// of older saves); tensors of modules LLaVA never runs may be missing (the tower's post-layernorm, SigLIP's pooling
/// head).</para></summary>
public static partial class WeightNames
{
    /// <summary>The module name of a file tensor name (identity for transformers 4.40's LLaVA layout and causal LMs).</summary>
    public static string ToModule(string fileName, bool llava)
    {
        if (!llava) return fileName;
        if (fileName.StartsWith("model.language_model.", StringComparison.Ordinal))
            return "language_model.model." + fileName["model.language_model.".Length..];
        if (fileName.StartsWith("model.vision_tower.", StringComparison.Ordinal)) return fileName["model.".Length..];
        if (fileName.StartsWith("model.multi_modal_projector.", StringComparison.Ordinal)) return fileName["model.".Length..];
        if (fileName.StartsWith("lm_head.", StringComparison.Ordinal)) return "language_model." + fileName;
        return fileName;
    }

    /// <summary>A file tensor no module holds, skipped on load.</summary>
    public static bool IsIgnorable(string fileName) =>
        fileName.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal) || fileName.EndsWith(".position_ids", StringComparison.Ordinal);

    /// <summary>A module tensor a checkpoint may lack (LLaVA never runs it): it keeps its initial values.</summary>
    public static bool IsOptional(string moduleName) =>
        moduleName.Contains(".vision_model.post_layernorm.", StringComparison.Ordinal)
        || moduleName.Contains(".vision_model.head.", StringComparison.Ordinal);

    /// <summary>The prefix of the decoder's layers: <c>language_model.model.layers.</c> or <c>model.layers.</c>.</summary>
    public static string LayerPrefix(bool llava) => llava ? "language_model.model.layers." : "model.layers.";

    /// <summary>The dense FFN tensor names of layer <paramref name="layer"/> and the expert names Mixtral gives them
    /// (gate_proj = w1, up_proj = w3, down_proj = w2).</summary>
    public static IEnumerable<(string Dense, string Expert)> DenseAsExpert(bool llava, int layer, int expert)
    {
        var p = $"{LayerPrefix(llava)}{layer}.";
        yield return ($"{p}mlp.gate_proj.weight", $"{p}block_sparse_moe.experts.{expert}.w1.weight");
        yield return ($"{p}mlp.up_proj.weight", $"{p}block_sparse_moe.experts.{expert}.w3.weight");
        yield return ($"{p}mlp.down_proj.weight", $"{p}block_sparse_moe.experts.{expert}.w2.weight");
    }

    /// <summary>The router name Mixtral gives layer <paramref name="layer"/>.</summary>
    public static string MixtralGate(bool llava, int layer) => $"{LayerPrefix(llava)}{layer}.block_sparse_moe.gate.weight";

    /// <summary>The dense layers of an MoE decoder, exported (as Mixtral or Qwen2-MoE) with experts on every layer.</summary>
    public static int[] DenseLayers(DecoderConfig text) =>
        text.Moe is { } moe ? Enumerable.Range(0, text.Layers).Except(moe.LayerIndices(text.Layers)).ToArray() : [];

    /// <summary>True when a decoder's MoE blocks are stored under Qwen2-MoE's names (a Qwen2 decoder with MoE layers,
    /// exported as qwen2_moe): <c>mlp.gate</c>, <c>mlp.experts.j.gate_proj/up_proj/down_proj</c>, a shared expert.</summary>
    public static bool Qwen2MoeLayout(DecoderConfig text) => text.Moe is not null && text.ModelType == "qwen2";

    /// <summary>A Qwen2-MoE file name under the Mixtral names the loader and writer work with (other names unchanged).</summary>
    public static string FromQwen2Moe(string fileName) =>
        Qwen2MoeExpert().Replace(Qwen2MoeGate().Replace(fileName, ".block_sparse_moe.gate.weight"),
            m => $".block_sparse_moe.experts.{m.Groups[1].Value}.{m.Groups[2].Value switch { "gate_proj" => "w1", "up_proj" => "w3", _ => "w2" }}.weight");

    /// <summary>A Mixtral-named MoE tensor under Qwen2-MoE's name (other names unchanged).</summary>
    public static string ToQwen2Moe(string name) =>
        MixtralExpert().Replace(MixtralGateName().Replace(name, ".mlp.gate.weight"),
            m => $".mlp.experts.{m.Groups[1].Value}.{m.Groups[2].Value switch { "w1" => "gate_proj", "w3" => "up_proj", _ => "down_proj" }}.weight");

    /// <summary>The shared expert of a Qwen2-MoE layer (Distill writes it zero-width, so it adds nothing) and its gate.</summary>
    public static IEnumerable<string> Qwen2MoeSharedExpert(bool llava, int layer)
    {
        var p = $"{LayerPrefix(llava)}{layer}.mlp.";
        yield return p + "shared_expert.gate_proj.weight";
        yield return p + "shared_expert.up_proj.weight";
        yield return p + "shared_expert.down_proj.weight";
        yield return p + "shared_expert_gate.weight";
    }

    /// <summary>Whether a file name is a Qwen2-MoE shared-expert tensor.</summary>
    public static bool IsQwen2MoeSharedExpert(string fileName) =>
        fileName.Contains(".mlp.shared_expert.", StringComparison.Ordinal) || fileName.Contains(".mlp.shared_expert_gate.", StringComparison.Ordinal);

    [GeneratedRegex(@"\.mlp\.gate\.weight$")]
    private static partial Regex Qwen2MoeGate();

    [GeneratedRegex(@"\.mlp\.experts\.(\d+)\.(gate_proj|up_proj|down_proj)\.weight$")]
    private static partial Regex Qwen2MoeExpert();

    [GeneratedRegex(@"\.block_sparse_moe\.gate\.weight$")]
    private static partial Regex MixtralGateName();

    [GeneratedRegex(@"\.block_sparse_moe\.experts\.(\d+)\.(w1|w2|w3)\.weight$")]
    private static partial Regex MixtralExpert();

    /// <summary>The layer index of a decoder-layer tensor name, or null.</summary>
    public static int? LayerOf(string name) => LayerIndex().Match(name) is { Success: true } m ? int.Parse(m.Groups[1].Value) : null;

    [GeneratedRegex(@"(?:^|\.)layers\.(\d+)\.")]
    private static partial Regex LayerIndex();
}
