using System.Text;
using Distill.Models.Accounting;
using Distill.Stages.Evaluation;

namespace Distill.Pipeline.Reporting;

/// <summary>The report sections of the eval stage beyond accuracy: POPE, CHAIR, size and cost with measured speed,
/// the MoD ARank table, and the plot links.</summary>
public static partial class ReportWriter
{
    /// <summary>POPE per setting and model: accuracy, precision, recall, F1 ("yes" is positive), yes-ratio, and the
    /// answers that were neither yes nor no (counted wrong).</summary>
    private static void AppendPope(StringBuilder sb, IReadOnlyList<EvaluationResult> results, bool realData)
    {
        var scored = results.Where(r => r.Pope.Count > 0).ToList();
        if (scored.Count == 0) return;
        sb.AppendLine("## POPE (existence probes, %)").AppendLine();
        sb.AppendLine(realData
            ? "The probes of distill.data.pope, per setting (random, popular, adversarial as the file's category or name says). \"yes\" is the positive class; an answer that is neither yes nor no counts as wrong (and as a missed positive)."
            : "\"Is there a <colour> <shape>?\" with negatives drawn at random, from the most frequent objects (popular), or sharing a colour or shape with a scene object (adversarial). \"yes\" is the positive class; an answer that is neither yes nor no counts as wrong (and as a missed positive).").AppendLine();
        Row(sb, ["Model", "Setting", "Probes", "Accuracy", "Precision", "Recall", "F1", "Yes-ratio", "Neither yes nor no"]);
        Row(sb, ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]);
        foreach (var r in scored)
            foreach (var p in r.Pope)
                Row(sb, [r.Model, p.Setting, p.Total.ToString(Inv), Percent(p.Accuracy), Percent(p.Precision), Percent(p.Recall),
                    Percent(p.F1), Percent(p.YesRatio), p.Unanswered.ToString(Inv)]);
        sb.AppendLine();
    }

    /// <summary>CHAIR of the captions per model, with object recall and the captions that mention no object.</summary>
    private static void AppendChair(StringBuilder sb, IReadOnlyList<EvaluationResult> results, bool realData)
    {
        var scored = results.Where(r => r.Chair is not null).ToList();
        if (scored.Count == 0) return;
        sb.AppendLine("## CHAIR (captions, %; lower is better)").AppendLine();
        sb.AppendLine(realData
            ? "Objects of distill.data.chair-vocabulary a generated caption names (any synonym, whole words) against each image's objects in distill.data.chair. CHAIR_i = hallucinated mentions / all mentions; CHAIR_s = captions with at least one hallucinated mention / all captions; object recall = the image's objects mentioned / all of them."
            : "Objects a generated caption mentions (colour + shape, or a bare shape) against the scene's objects. CHAIR_i = hallucinated mentions / all mentions; CHAIR_s = captions with at least one hallucinated mention / all captions; object recall = scene objects (colour + shape) mentioned / all of them.").AppendLine();
        Row(sb, ["Model", "Captions", "Mentions", "CHAIR_i", "CHAIR_s", "Object recall", "Captions without objects"]);
        Row(sb, ["---", "---:", "---:", "---:", "---:", "---:", "---:"]);
        foreach (var r in scored)
        {
            var c = r.Chair!;
            Row(sb, [r.Model, c.Captions.ToString(Inv), c.Mentions.ToString(Inv), Percent(c.ChairI), Percent(c.ChairS),
                Percent(c.ObjectRecall), c.CaptionsWithoutMentions.ToString(Inv)]);
        }
        sb.AppendLine();
    }

    /// <summary>Size and cost of each evaluated model: parameters (total, activated per token) and forward FLOPs from
    /// the accounting, measured generation speed and prefill latency.</summary>
    private static void AppendCost(StringBuilder sb, IReadOnlyList<EvaluationResult> results)
    {
        var accounted = results.Where(r => r.FlopsPerSample > 0).ToList();
        if (accounted.Count == 0) return;
        var speed = accounted.Select(r => r.Speed).FirstOrDefault(s => s is not null);
        int batch = speed?.Batch ?? 0;
        sb.AppendLine("## Size and cost").AppendLine();
        var header = new List<string> { "Model", "Params", "Activated / token", "FLOPs / token", "Forward FLOPs / sample", "Decoder FLOPs / sample" };
        if (speed is not null)
            header.AddRange(["Tokens/s (batch 1)", $"Tokens/s (batch {batch})", "Prefill ms (batch 1)", $"Prefill ms (batch {batch})"]);
        Row(sb, header);
        Row(sb, header.Select((_, i) => i == 0 ? "---" : "---:").ToList());
        foreach (var r in accounted)
        {
            var cells = new List<string>
            {
                r.Model, Params(r.Parameters), Params(r.ActivatedParameters),
                r.FlopsPerToken > 0 ? FlopBreakdown.Human((long)Math.Round(r.FlopsPerToken)) : "–",
                FlopBreakdown.Human(r.FlopsPerSample), FlopBreakdown.Human(r.DecoderFlopsPerSample),
            };
            if (speed is not null)
            {
                var s = r.Speed;
                cells.AddRange(s is null
                    ? ["–", "–", "–", "–"]
                    : [s.TokensPerSecond.ToString("0", Inv), s.BatchTokensPerSecond.ToString("0", Inv),
                       s.PrefillMs.ToString("0.00", Inv), s.BatchPrefillMs.ToString("0.00", Inv)]);
            }
            Row(sb, cells);
        }
        sb.AppendLine();
        sb.AppendLine("Parameters and FLOPs come from the accounting (matrix products only; a forward pass over the mean test sample, image tokens included; activated = per token, MoE: shared weights + k experts).");
        if (speed is not null)
            sb.Append("Speed is measured: the first ").Append(speed.Prompts.ToString(Inv)).Append(" test prompts, ")
              .Append(speed.NewTokens.ToString(Inv)).Append(" greedy tokens each (eos does not stop a row, so every model does the same work), one warm-up round, then the median of ")
              .Append(speed.Repeats.ToString(Inv)).Append(" timed round(s). Batch 1: each prompt alone; batch ").Append(batch.ToString(Inv))
              .Append(": the prompts repeated to the eval batch size in one left-padded batch. Tokens/s = generated tokens / (prefill + decode time); prefill = image encoding + LM prefill until the first token is known. Models are measured one after another, so load from other processes on the machine can slow one row more than another.")
              .AppendLine();
        foreach (var r in accounted.Where(r => r.Speed?.ModKeepRatio is not null))
            sb.Append(Escape(r.Model)).Append(": the MoD layers processed ").Append(Percent(r.Speed!.ModKeepRatio!.Value))
              .AppendLine("% of the image tokens in the measured prefills (eval-mode routing); its FLOPs are counted at that ratio.");
        sb.AppendLine();
    }

    /// <summary>The ARank table of the MoD stage: ARank of each decoder layer (<c>arank.layerN</c> figures) and that
    /// stage's other per-layer figures (e.g. which layers were converted), then the ARank plot.</summary>
    private static void AppendARank(StringBuilder sb, IReadOnlyList<StageSummary> stages, IReadOnlyList<ReportPlot> plots)
    {
        if (ReportPlots.ARank(stages) is not { } data) return;
        sb.AppendLine("## MoD: ARank per decoder layer").AppendLine();
        sb.Append("From stage `").Append(Escape(data.Stage)).AppendLine("`: the mean rank of the layer's prefill attention maps over heads and calibration samples; low-ARank layers are converted first.").AppendLine();
        var others = data.Other.Keys.Order(StringComparer.Ordinal).ToList();
        var header = new List<string> { "Layer", "ARank" };
        header.AddRange(others);
        Row(sb, header);
        Row(sb, header.Select(_ => "---:").ToList());
        var layers = data.ARank.Keys.Concat(data.Other.Values.SelectMany(v => v.Keys)).Distinct().Order();
        foreach (var layer in layers)
        {
            var cells = new List<string> { layer.ToString(Inv), data.ARank.TryGetValue(layer, out var a) ? Number(a) : "" };
            cells.AddRange(others.Select(o => data.Other[o].TryGetValue(layer, out var v) ? Number(v) : ""));
            Row(sb, cells);
        }
        sb.AppendLine();
        var stage = stages.Last(s => s.Stage == data.Stage);
        var rest = stage.Figures.Where(kv => !LayerFigureName(kv.Key) && kv.Key.Contains("convert", StringComparison.OrdinalIgnoreCase)).ToList();
        if (rest.Count > 0)
            sb.Append("Conversion: ").Append(string.Join(", ", rest.Select(kv => $"{kv.Key} {Number(kv.Value)}"))).AppendLine(".").AppendLine();
        AppendPlots(sb, plots, "arank");
    }

    private static bool LayerFigureName(string name) =>
        System.Text.RegularExpressions.Regex.IsMatch(name, @"^.+?[._]layer\d+$");

    /// <summary>Image links to the plots of one kind.</summary>
    private static void AppendPlots(StringBuilder sb, IReadOnlyList<ReportPlot> plots, string kind)
    {
        var ofKind = plots.Where(p => p.Kind == kind).ToList();
        foreach (var p in ofKind)
        {
            if (p.Error is null) sb.Append("![").Append(Escape(p.Title)).Append("](").Append(p.RelativePath).AppendLine(")");
            else sb.Append("_Plot not drawn (").Append(Escape(p.Title)).Append("): ").Append(Escape(p.Error)).AppendLine("_");
        }
        if (ofKind.Count > 0) sb.AppendLine();
    }

    /// <summary>An eval figure about one evaluated model (<c>teacher_overall</c>, <c>mod_chair_i</c>): the tables
    /// above show it, so the stage table leaves it out.</summary>
    private static bool IsModelFigure(string figure, IReadOnlyList<EvaluationResult> results) =>
        results.Any(r => figure.StartsWith(r.Model + "_", StringComparison.Ordinal));
}
