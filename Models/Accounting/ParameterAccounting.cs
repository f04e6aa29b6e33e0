using Distill.Models.Config;

namespace Distill.Models.Accounting;

/// <summary>Parameter counts of one decoder layer. <see cref="Ffn"/> is the whole feed-forward block as stored
/// (for an MoE layer: all E experts plus the router); <see cref="ActivatedFfn"/> is what one token uses (for an MoE
/// layer: k experts plus the router; for a dense layer the same as <see cref="Ffn"/>).</summary>
public sealed record DecoderLayerParameters(int Index, bool IsMoe, bool IsMod, long Attention, long Norms, long Ffn, long ActivatedFfn)
{
    public long Total => Attention + Norms + Ffn;
    public long Activated => Attention + Norms + ActivatedFfn;
}

/// <summary>Parameter counts of a <see cref="VlmConfig"/>, by part. Every count is what the modules register
/// (weights and biases, norms included); the vision tower counts all its parameters, also the layers after
/// <see cref="VlmConfig.VisionFeatureLayer"/> that never run, its post-layernorm and SigLIP's pooling head.</summary>
/// <param name="ModRouter">The one shared MoD router <c>Linear(d, 2, bias=false)</c>: 2d when the decoder has MoD
/// layers, else 0.</param>
/// <param name="LmHead">0 with tied embeddings (the head reuses <c>embed_tokens</c>).</param>
public sealed record ParameterBreakdown(
    long VisionTower,
    long Projector,
    long Embedding,
    IReadOnlyList<DecoderLayerParameters> Layers,
    long FinalNorm,
    long ModRouter,
    long LmHead)
{
    /// <summary>The language model: embedding, layers, final norm, MoD router and LM head.</summary>
    public long Decoder => Embedding + Layers.Sum(l => l.Total) + FinalNorm + ModRouter + LmHead;

    /// <summary>Every parameter (equals <c>VisionLanguageModel.ParameterCount()</c>).</summary>
    public long Total => VisionTower + Projector + Decoder;

    /// <summary>Parameters one token uses: everything except, in each MoE layer, the E - k experts it is not
    /// routed to. MoD does not lower this count: a processed token uses the whole layer (a skipped one only the
    /// router), so this is the per-token count of a processed token.</summary>
    public long Activated => Total - Layers.Sum(l => l.Ffn - l.ActivatedFfn);
}

/// <summary>Parameter accounting from a config alone (no model is built).</summary>
public static class ParameterAccounting
{
    public static ParameterBreakdown Count(VlmConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        return Count(config.Text) with
        {
            VisionTower = VisionTower(config.Vision),
            Projector = Projector(config.Vision.HiddenSize, config.Text.HiddenSize),
        };
    }

    /// <summary>A text-only causal LM (no vision tower, no projector).</summary>
    public static ParameterBreakdown Count(DecoderConfig text)
    {
        ArgumentNullException.ThrowIfNull(text);
        long d = text.HiddenSize, v = text.VocabSize;
        var layers = Enumerable.Range(0, text.Layers).Select(i => DecoderLayer(text, i)).ToArray();
        return new ParameterBreakdown(
            VisionTower: 0,
            Projector: 0,
            Embedding: v * d,
            Layers: layers,
            FinalNorm: d,
            ModRouter: HasModLayers(text) ? d * 2 : 0,
            LmHead: text.TieWordEmbeddings ? 0 : v * d);
    }

    /// <summary>Total parameters of the model the config describes.</summary>
    public static long Total(VlmConfig config) => Count(config).Total;

    /// <summary>Parameters one token uses (MoE: shared weights + k experts and the router of each MoE layer).</summary>
    public static long Activated(VlmConfig config) => Count(config).Activated;

    /// <summary>ViT: patch conv, learned positions, per layer LN1, q/k/v/out (with bias), LN2, fc1/fc2 (with bias),
    /// the post-LN; CLIP adds the class embedding (and its position) and the pre-LN, SigLIP a patch-conv bias and the
    /// pooling head (probe, packed q/k/v and out projection with biases, LN, MLP).</summary>
    public static long VisionTower(VisionConfig vision)
    {
        long dv = vision.HiddenSize, iv = vision.IntermediateSize, p = vision.PatchSize, c = vision.NumChannels;
        var layerNorm = 2 * dv;
        var mlp = (dv * iv + iv) + (iv * dv + dv);
        var layer = layerNorm + 4 * (dv * dv + dv) + layerNorm + mlp;
        var common = dv * c * p * p + (long)vision.NumPositions * dv + vision.Layers * layer + layerNorm;
        return vision.HasClassToken
            ? common + dv + layerNorm                                                  // class embedding, pre-LN
            : common + dv + dv + (3 * dv * dv + 3 * dv) + (dv * dv + dv) + layerNorm + mlp; // conv bias, head
    }

    /// <summary><c>mlp2x_gelu</c>: Linear(Dv, Dt) and Linear(Dt, Dt), both with bias.</summary>
    public static long Projector(long visionHidden, long textHidden) =>
        visionHidden * textHidden + textHidden + textHidden * textHidden + textHidden;

    /// <summary>One decoder layer: two RMSNorms, q/k/v/o (GQA: k and v are Hkv*hd wide; q/k/v biases for Qwen2, an
    /// o bias for Llama's attention_bias), and a SwiGLU FFN (gate, up, down, no bias) or, in an MoE layer, E such FFNs
    /// plus the router Linear(d, E, bias=false).</summary>
    public static DecoderLayerParameters DecoderLayer(DecoderConfig text, int index)
    {
        long d = text.HiddenSize, i = text.IntermediateSize;
        long q = (long)text.Heads * text.HeadDim, kv = (long)text.KvHeads * text.HeadDim;
        var attention = d * q + 2 * d * kv + q * d + (text.QkvBias ? q + 2 * kv : 0) + (text.OutputBias ? d : 0);
        var norms = 2 * d;
        var expert = 3 * d * i;
        var isMoe = text.Moe is { } moe && moe.IsMoeLayer(index);
        var isMod = text.Mod is { } mod && mod.IsModLayer(index);
        if (!isMoe)
            return new DecoderLayerParameters(index, false, isMod, attention, norms, expert, expert);
        var m = text.Moe!;
        var router = d * m.Experts;
        return new DecoderLayerParameters(index, true, isMod, attention, norms,
            Ffn: m.Experts * expert + router,
            ActivatedFfn: Math.Min(m.TopK, m.Experts) * expert + router);
    }

    internal static bool HasModLayers(DecoderConfig text) =>
        text.Mod is { } mod && Enumerable.Range(0, text.Layers).Any(mod.IsModLayer);
}
