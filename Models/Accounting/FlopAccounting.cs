using System.Globalization;
using System.Text;
using Distill.Models.Config;

namespace Distill.Models.Accounting;

/// <summary>One sample's sequence for FLOP accounting: <paramref name="ImageTokens"/> image (patch) tokens and
/// <paramref name="TextTokens"/> other tokens (system, question, response), T = ImageTokens + TextTokens.</summary>
/// <param name="ImageTokens">F, the image features the LM receives (<see cref="VlmConfig.ImageFeatures"/> for one
/// image); the vision tower is counted over one image's rows; 0 = a text-only sequence (no vision work).</param>
/// <param name="ModKeepFraction">Share of the image tokens a MoD layer processes; null = 1 - <see cref="ModConfig.SkipRatio"/>.
/// A MoD layer processes ceil(fraction * N) image tokens (the top of them by router probability) and every text
/// token; only image tokens compete (system tokens, which DESIGN 5.4 also lets compete, are counted as always
/// processed, so this is an upper bound when they are skipped too).</param>
public sealed record SequenceShape(int ImageTokens, int TextTokens, double? ModKeepFraction = null)
{
    public int Tokens => ImageTokens + TextTokens;

    /// <summary>One image's <see cref="VlmConfig.ImageFeatures"/> plus the given text tokens.</summary>
    public static SequenceShape ForImage(VlmConfig config, int textTokens, double? modKeepFraction = null) =>
        new(config.ImageFeatures, textTokens, modKeepFraction);
}

/// <summary>FLOPs of one decoder layer for one sample. <see cref="ProcessedTokens"/> = tokens that go through the
/// layer (T, or in a MoD layer the kept image tokens plus all text tokens).</summary>
/// <param name="Projections">q, k, v, o over the processed tokens.</param>
/// <param name="Attention">QK^T and AV over the causal context of the processed tokens.</param>
/// <param name="Ffn">SwiGLU gate/up/down over the processed tokens; in an MoE layer k experts per token.</param>
/// <param name="Router">MoE router Linear(d, E) over the processed tokens plus, in a MoD layer, the shared MoD
/// router Linear(d, 2) over all T tokens (every token needs its P(process)).</param>
public sealed record DecoderLayerFlops(int Index, bool IsMoe, bool IsMod, int ProcessedTokens, long Projections, long Attention, long Ffn, long Router)
{
    public long Total => Projections + Attention + Ffn + Router;
}

/// <summary>Forward-pass FLOPs of one sample, by part, for a report. See <see cref="FlopAccounting"/> for what is
/// counted.</summary>
public sealed record FlopBreakdown(
    SequenceShape Sequence,
    long VisionTower,
    long Projector,
    IReadOnlyList<DecoderLayerFlops> Layers,
    long LmHead)
{
    /// <summary>Sum over the decoder layers (no LM head).</summary>
    public long DecoderLayers => Layers.Sum(l => l.Total);

    /// <summary>Decoder FLOPs per sample: the language model, i.e. the decoder layers plus the LM head. This is
    /// the number gamma-MoD lowers (it leaves the vision tower and projector alone).</summary>
    public long Decoder => DecoderLayers + LmHead;

    /// <summary>The whole forward pass: vision tower + projector + decoder.</summary>
    public long Total => VisionTower + Projector + Decoder;

    /// <summary><see cref="Total"/> / T (0 for an empty sequence).</summary>
    public double PerToken => Sequence.Tokens == 0 ? 0 : (double)Total / Sequence.Tokens;

    /// <summary><see cref="Decoder"/> / T.</summary>
    public double DecoderPerToken => Sequence.Tokens == 0 ? 0 : (double)Decoder / Sequence.Tokens;

    /// <summary>A Markdown table: one row per part and per decoder layer, then the totals.</summary>
    public string ToMarkdown()
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"FLOPs per sample: {Sequence.ImageTokens} image + {Sequence.TextTokens} text tokens");
        s.AppendLine();
        s.AppendLine("| part | tokens | FLOPs |");
        s.AppendLine("|---|---:|---:|");
        void Row(string part, int tokens, long flops) =>
            s.AppendLine(CultureInfo.InvariantCulture, $"| {part} | {tokens} | {Human(flops)} |");
        Row("vision tower", Sequence.ImageTokens, VisionTower);
        Row("projector", Sequence.ImageTokens, Projector);
        foreach (var l in Layers)
        {
            var kind = (l.IsMoe ? "MoE" : "dense") + (l.IsMod ? "+MoD" : "");
            Row($"decoder layer {l.Index} ({kind})", l.ProcessedTokens, l.Total);
        }
        Row("LM head", Sequence.Tokens, LmHead);
        Row("**decoder (layers + head)**", Sequence.Tokens, Decoder);
        Row("**total**", Sequence.Tokens, Total);
        s.AppendLine(CultureInfo.InvariantCulture, $"| per token | | {Human((long)Math.Round(PerToken))} |");
        return s.ToString();
    }

    /// <summary>"123", "4.56 K", "7.89 M", "1.23 G", "4.56 T" (FLOPs).</summary>
    public static string Human(long flops)
    {
        string[] units = ["", " K", " M", " G", " T", " P"];
        double value = flops;
        var u = 0;
        while (Math.Abs(value) >= 1000 && u < units.Length - 1)
        {
            value /= 1000;
            u++;
        }
        return u == 0
            ? flops.ToString(CultureInfo.InvariantCulture)
            : value.ToString("0.00", CultureInfo.InvariantCulture) + units[u];
    }
}

/// <summary>Forward-pass FLOPs from a config and a <see cref="SequenceShape"/> (no model is built).
/// <para>Counted: matrix products only, each as 2*m*n*k (a multiply and an add per term): every Linear (q/k/v/o,
/// FFN, experts, routers, projector, LM head, vision projections and MLP), the patch-embedding convolution
/// (2 * N * 3P^2 * Dv), and attention QK^T and AV. Decoder attention is causal: query i (1-based) sees i keys, so a
/// layer over P tokens has P(P+1)/2 query-key pairs, each 2*H*hd FLOPs for QK^T and again for AV, i.e.
/// 2*H*hd*P*(P+1) in all (the module computes the full P x P square and masks it; the masked half is not
/// counted). GQA does not change this (every query head scores every visible key). Vision attention is
/// bidirectional: 4*Dv*R^2 per layer over the tower's R rows (patches, plus CLIP's class token). Only the vision
/// layers that run (up to <see cref="VlmConfig.VisionFeatureLayer"/>) are counted. MoE: k experts per token plus the router, as if no token overflowed its expert's capacity (dropped
/// tokens would do less). MoD: the processed tokens (kept image tokens + all text tokens) go through projections,
/// attention among themselves (compacted causal context) and FFN; skipped tokens cost only the shared router.
/// The LM head is counted on every one of the T positions (as a training/scoring forward computes them).</para>
/// <para>Not counted: norms (LayerNorm, RMSNorm), softmax, activations (GELU, SiLU), the SwiGLU product, RoPE,
/// bias and residual additions, the attention scaling and masking, the MoD gate multiply, top-k selection, the
/// embedding lookup and the position-embedding add — all linear in the activations and small next to the
/// matmuls.</para></summary>
public static class FlopAccounting
{
    public static FlopBreakdown Forward(VlmConfig config, SequenceShape sequence)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(sequence);
        if (sequence.ImageTokens < 0 || sequence.TextTokens < 0)
            throw new ArgumentException($"token counts must not be negative: {sequence}.");
        var text = config.Text;
        long n = sequence.ImageTokens, dv = config.Vision.HiddenSize, dt = text.HiddenSize;
        var layers = Enumerable.Range(0, text.Layers).Select(i => DecoderLayer(text, i, sequence)).ToArray();
        return new FlopBreakdown(
            sequence,
            VisionTower: n == 0 ? 0 : VisionTower(config),
            Projector: 2 * n * dv * dt + 2 * n * dt * dt,
            Layers: layers,
            LmHead: 2L * sequence.Tokens * dt * text.VocabSize);
    }

    /// <summary>A text-only causal LM over <paramref name="tokens"/> tokens: the decoder layers and the LM head.</summary>
    public static FlopBreakdown Forward(DecoderConfig text, int tokens)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (tokens < 0) throw new ArgumentException($"token count must not be negative: {tokens}.");
        var sequence = new SequenceShape(0, tokens);
        var layers = Enumerable.Range(0, text.Layers).Select(i => DecoderLayer(text, i, sequence)).ToArray();
        return new FlopBreakdown(sequence, VisionTower: 0, Projector: 0, layers, LmHead: 2L * tokens * text.HiddenSize * text.VocabSize);
    }

    /// <summary>Vision tower over one image: patch conv over its N patches plus the layers that run (q/k/v/out,
    /// attention, fc1/fc2) over its R rows.</summary>
    public static long VisionTower(VlmConfig config)
    {
        var vision = config.Vision;
        long n = vision.NumPatches, r = vision.NumPositions, dv = vision.HiddenSize, iv = vision.IntermediateSize, p = vision.PatchSize;
        var patchEmbedding = 2 * n * (vision.NumChannels * p * p) * dv;
        var projections = 4 * (2 * r * dv * dv);
        var attention = 2 * (2 * r * r * dv);       // QK^T and AV, all heads together: H*hd = Dv
        var mlp = 2 * (2 * r * dv * iv);
        return patchEmbedding + config.VisionLayersUsed * (projections + attention + mlp);
    }

    /// <summary>Image tokens a MoD layer processes: ceil(fraction * N), fraction in [0, 1].</summary>
    public static int ModProcessedImageTokens(DecoderConfig text, SequenceShape sequence)
    {
        var keep = sequence.ModKeepFraction ?? 1.0 - (text.Mod?.SkipRatio ?? 0.0);
        if (keep is < 0 or > 1 || double.IsNaN(keep))
            throw new ArgumentException($"MoD keep fraction {keep} is outside [0, 1].");
        // The small tolerance keeps e.g. 0.7 * 10 = 7.000000000000001 at 7.
        return (int)Math.Min(sequence.ImageTokens, Math.Ceiling(keep * sequence.ImageTokens - 1e-9));
    }

    public static DecoderLayerFlops DecoderLayer(DecoderConfig text, int index, SequenceShape sequence)
    {
        long d = text.HiddenSize, i = text.IntermediateSize, t = sequence.Tokens;
        long q = (long)text.Heads * text.HeadDim, kv = (long)text.KvHeads * text.HeadDim;
        var isMoe = text.Moe is { } moe && moe.IsMoeLayer(index);
        var isMod = text.Mod is { } mod && mod.IsModLayer(index);
        long p = isMod ? ModProcessedImageTokens(text, sequence) + sequence.TextTokens : t;

        var projections = 2 * p * d * q + 2 * (2 * p * d * kv) + 2 * p * q * d;
        var attention = 2 * q * p * (p + 1);          // QK^T + AV over p(p+1)/2 causal pairs, 2*H*hd each
        var expert = 3 * (2 * p * d * i);              // gate, up, down
        long ffn = expert, router = 0;
        if (isMoe)
        {
            var m = text.Moe!;
            ffn = Math.Min(m.TopK, m.Experts) * expert;
            router += 2 * p * d * m.Experts;
        }
        if (isMod)
            router += 2 * t * d * 2;
        return new DecoderLayerFlops(index, isMoe, isMod, (int)p, projections, attention, ffn, router);
    }
}
