using System.Globalization;
using System.Text;
using Distill.Models.IO;
using Distill.Stages.Evaluation;

namespace Distill.Pipeline.Reporting;

/// <summary>One finished stage for the report: wall time and its figures (name -> value), e.g. loss, samples/s.</summary>
public sealed record StageSummary(string Stage, TimeSpan WallTime, IReadOnlyDictionary<string, double> Figures);

/// <summary>Everything <see cref="ReportWriter"/> needs. <see cref="Summary"/> lines (e.g. "Preset: demo") go
/// into the run summary as given.</summary>
public sealed record ReportInput(
    string RunName,
    DateTimeOffset Started,
    TimeSpan Total,
    IReadOnlyList<EvaluationResult> Results,
    IReadOnlyList<StageSummary> Stages)
{
    public IReadOnlyList<KeyValuePair<string, string>> Summary { get; init; } = [];

    /// <summary>The rows of the run's metrics.csv (loss curves are drawn from them).</summary>
    public IReadOnlyList<MetricPoint> Metrics { get; init; } = [];

    /// <summary>True for a user's LLaVA-format dataset (POPE and CHAIR from its files), false for Shapes.</summary>
    public bool RealData { get; init; }
}

/// <summary>Writes <c>report.md</c>: run summary, accuracy per family of every evaluated model next to chance
/// level, POPE and CHAIR, size and measured speed, learning curves, the MoD ARank table, then a table of stages with
/// wall times and key figures; the PNG plots (<see cref="ReportPlots"/>) go to <c>report/</c> beside it.</summary>
public static partial class ReportWriter
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Write(string path, ReportInput input)
    {
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        var plots = ReportPlots.Draw(input, dir ?? ".");
        AtomicFile.WriteAllText(path, Render(input, plots));
    }

    /// <summary>The Markdown text; <paramref name="plots"/> are linked in their sections.</summary>
    public static string Render(ReportInput input, IReadOnlyList<ReportPlot>? plots = null)
    {
        plots ??= [];
        var sb = new StringBuilder();
        sb.Append("# Distill report: ").AppendLine(Escape(input.RunName)).AppendLine();

        sb.AppendLine("## Run summary").AppendLine();
        sb.Append("- Started: ").Append(input.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", Inv)).AppendLine(" UTC");
        sb.Append("- Wall time: ").AppendLine(Duration(input.Total));
        foreach (var (k, v) in input.Summary) sb.Append("- ").Append(Escape(k)).Append(": ").AppendLine(Escape(v));
        var teacher = Teacher(input.Results);
        foreach (var r in input.Results.Where(r => !ReferenceEquals(r, teacher)))
        {
            if (teacher is null || teacher.Parameters <= 0) continue;
            sb.Append("- ").Append(Escape(r.Model)).Append(": ")
              .Append(Percent(r.Overall)).Append("% overall vs teacher ").Append(Percent(teacher.Overall)).Append("% with ")
              .Append((r.Parameters / (double)teacher.Parameters).ToString("0.00", Inv)).AppendLine("x the teacher's parameters");
        }
        sb.AppendLine();
        AppendTargets(sb, Targets.Check(RunFigures.Of(input.Results, input.Stages, input.Total)));

        sb.AppendLine("## Accuracy (test split, exact match, %)").AppendLine();
        if (input.Results.Count == 0)
        {
            sb.AppendLine("No model was evaluated.").AppendLine();
        }
        else
        {
            var families = input.Results.SelectMany(r => r.Families.Select(f => f.Family)).Distinct(StringComparer.Ordinal).ToArray();
            var header = new List<string> { "Model", "Params" };
            header.AddRange(families);
            header.Add("Overall");
            Row(sb, header);
            Row(sb, header.Select((_, i) => i < 2 ? "---" : "---:").ToList());

            var chance = new List<string> { "chance", "" };
            foreach (var fam in families)
            {
                var score = input.Results.SelectMany(r => r.Families).First(f => f.Family == fam);
                chance.Add(Percent(score.Chance));
            }
            chance.Add(Percent(OverallChance(input.Results)));
            Row(sb, chance.Select(c => c.Length == 0 ? "" : "_" + c + "_").ToList());

            foreach (var r in input.Results)
            {
                var cells = new List<string> { r.Model, Params(r.Parameters) };
                foreach (var fam in families)
                {
                    var f = r.Families.FirstOrDefault(x => x.Family == fam);
                    cells.Add(f is null || f.Total == 0 ? "–" : Percent(f.Accuracy));
                }
                cells.Add(Percent(r.Overall));
                Row(sb, cells);
            }
            sb.AppendLine();
            var counts = input.Results[0].Families.Select(f => $"{f.Family} {f.Total.ToString(Inv)}");
            sb.Append("Test questions per family (").Append(Escape(input.Results[0].Model)).Append("): ").Append(string.Join(", ", counts)).AppendLine(".").AppendLine();
            AppendPlots(sb, plots, "accuracy");
        }

        AppendPope(sb, input.Results, input.RealData);
        AppendChair(sb, input.Results, input.RealData);
        AppendCost(sb, input.Results);
        AppendPlots(sb, plots, "latency");
        AppendCurves(sb, input.Stages);
        if (plots.Any(p => p.Kind == "loss") && !input.Stages.Any(s => s.Figures.Keys.Any(k => EpochFigure().IsMatch(k))))
            sb.AppendLine("## Learning curves").AppendLine();
        AppendPlots(sb, plots, "loss");
        AppendARank(sb, input.Stages, plots);
        AppendMod(sb, input.Stages);

        sb.AppendLine("## Stages").AppendLine();
        if (input.Stages.Count == 0)
        {
            sb.AppendLine("No stage ran.");
        }
        else
        {
            Row(sb, ["Stage", "Wall time", "Key figures"]);
            Row(sb, ["---", "---:", "---"]);
            foreach (var s in input.Stages)
            {
                var figures = string.Join(", ", s.Figures.Where(kv => !EpochFigure().IsMatch(kv.Key) && !(s.Stage == "eval" && IsModelFigure(kv.Key, input.Results)))
                    .Select(kv => $"{kv.Key} {Number(kv.Value)}"));
                Row(sb, [s.Stage, Duration(s.WallTime), figures]);
            }
        }
        return sb.ToString();
    }

    /// <summary>The targets (<see cref="Targets"/>), each met, missed or not measured, with its figure;
    /// <paramref name="extra"/>: one more column (a study's count of seeds that meet each).</summary>
    public static void AppendTargets(StringBuilder sb, IReadOnlyList<TargetCheck> checks, string? note = null,
        (string Header, Func<TargetCheck, string> Cell)? extra = null)
    {
        var measured = checks.Where(c => c.Met is not null).ToList();
        sb.AppendLine("## Targets").AppendLine();
        sb.Append(measured.Count(c => c.Met == true).ToString(Inv)).Append(" of ").Append(measured.Count.ToString(Inv)).Append(" measured targets met");
        if (checks.Count > measured.Count) sb.Append(", ").Append((checks.Count - measured.Count).ToString(Inv)).Append(" not measured (a stage or figure missing)");
        sb.AppendLine(note is null ? "." : ". " + note).AppendLine();
        Row(sb, ["Target", "Goal", "Figure", "Verdict", .. extra is { } e ? new[] { e.Header } : []]);
        Row(sb, ["---", "---", "---", "---", .. extra is null ? Array.Empty<string>() : ["---:"]]);
        foreach (var c in checks)
            Row(sb, [c.Name, c.Goal, c.Figure, c.Met == false ? "**missed**" : c.Verdict, .. extra is { } x ? new[] { x.Cell(c) } : []]);
        sb.AppendLine();
    }

    /// <summary>Figures named <c>metric_epochN</c> (validation loss, held-out distillation loss, ...), one row per
    /// stage and metric, one column per epoch: the learning curves of the run.</summary>
    private static void AppendCurves(StringBuilder sb, IReadOnlyList<StageSummary> stages)
    {
        var curves = stages
            .SelectMany(s => s.Figures.Select(kv => (Stage: s.Stage, Match: EpochFigure().Match(kv.Key), kv.Value)))
            .Where(x => x.Match.Success)
            .GroupBy(x => (x.Stage, Metric: x.Match.Groups[1].Value))
            .Select(g => (g.Key.Stage, g.Key.Metric, Points: g.ToDictionary(x => int.Parse(x.Match.Groups[2].Value, Inv), x => x.Value)))
            .ToList();
        if (curves.Count == 0) return;
        int first = curves.Min(c => c.Points.Keys.Min()), last = curves.Max(c => c.Points.Keys.Max());
        sb.AppendLine("## Learning curves (per epoch)").AppendLine();
        sb.AppendLine("`heldout_kl`: the student's sparse KL to the teacher on held-out (validation) teacher batches, never trained on; epoch 0 is the freshly initialised student. `val_loss`: the teacher's response-token cross-entropy on the validation split.").AppendLine();
        var header = new List<string> { "Stage", "Metric" };
        header.AddRange(Enumerable.Range(first, last - first + 1).Select(e => $"epoch {e}"));
        Row(sb, header);
        Row(sb, header.Select((_, i) => i < 2 ? "---" : "---:").ToList());
        foreach (var (stage, metric, points) in curves)
        {
            var cells = new List<string> { stage, metric };
            cells.AddRange(Enumerable.Range(first, last - first + 1).Select(e => points.TryGetValue(e, out var v) ? Number(v) : ""));
            Row(sb, cells);
        }
        sb.AppendLine();
    }

    /// <summary>gamma-MoD (stage <c>mod</c>): every layer's ARank, which layers were converted and the share of image
    /// tokens each keeps at inference, then decoder FLOPs, prefill latency and accuracy before and after.</summary>
    private static void AppendMod(StringBuilder sb, IReadOnlyList<StageSummary> stages)
    {
        var mod = stages.LastOrDefault(s => s.Stage == "mod" && s.Figures.ContainsKey("arank.layer0"));
        if (mod is null) return;
        var f = mod.Figures;
        double? Get(string key) => f.TryGetValue(key, out var v) && double.IsFinite(v) ? v : null;
        int layers = 0;
        while (f.ContainsKey($"arank.layer{layers}")) layers++;
        var converted = Enumerable.Range(0, layers).Where(i => Get($"converted.layer{i}") == 1).ToList();

        sb.AppendLine("## Mixture-of-Depths (gamma-MoD)").AppendLine();
        sb.Append("Converted ").Append(converted.Count.ToString(Inv)).Append(" of ").Append(layers.ToString(Inv))
          .Append(" decoder layers (").Append(converted.Count == 0 ? "none" : string.Join(", ", converted)).Append(")");
        if (Get("calibration_samples") is { } samples) sb.Append(", ARank over ").Append(samples.ToString(Inv)).Append(" calibration samples");
        sb.AppendLine(". Image tokens kept: share of image tokens a MoD layer processes in the prefill of the test prompts with the inference threshold.").AppendLine();
        Row(sb, ["Layer", "ARank", "Converted", "Image tokens kept"]);
        Row(sb, ["---", "---:", "---", "---:"]);
        for (int i = 0; i < layers; i++)
        {
            var keep = Get($"image_keep_share.layer{i}");
            Row(sb, [i.ToString(Inv), Number(f[$"arank.layer{i}"]), converted.Contains(i) ? "yes" : "no", keep is null ? "–" : Percent(keep.Value) + "%"]);
        }
        sb.AppendLine();

        Row(sb, ["Measure", "Before", "After", "Change"]);
        Row(sb, ["---", "---:", "---:", "---:"]);
        void Compare(string label, double? before, double? after, Func<double, string> format, bool relative)
        {
            if (before is null || after is null) return;
            var change = relative
                ? (before.Value == 0 ? "–" : ((after.Value / before.Value - 1) * 100).ToString("+0.0;-0.0;0.0", Inv) + "%")
                : ((after.Value - before.Value) * 100).ToString("+0.0;-0.0;0.0", Inv) + " points";
            Row(sb, [label, format(before.Value), format(after.Value), change]);
        }
        Compare("Decoder FLOPs / test sample", Get("decoder_flops_before"), Get("decoder_flops_after"),
            v => Distill.Models.Accounting.FlopBreakdown.Human((long)v), relative: true);
        var batch = Get("prefill_batch") is { } b
            ? $" (batch {b.ToString(Inv)}{(Get("latency_threads") is { } th ? $", {th.ToString(Inv)} thread{(th == 1 ? "" : "s")}" : "")})"
            : "";
        Compare($"Prefill latency{batch}, ms", Get("prefill_ms_before"), Get("prefill_ms_after"), v => v.ToString("0.00", Inv), relative: true);
        Compare($"LM prefill latency{batch}, ms", Get("lm_prefill_ms_before"), Get("lm_prefill_ms_after"), v => v.ToString("0.00", Inv), relative: true);
        Compare($"Prefill CPU time{batch}, ms", Get("prefill_cpu_ms_before"), Get("prefill_cpu_ms_after"), v => v.ToString("0.00", Inv), relative: true);
        Compare("Accuracy (test, %)", Get("accuracy_before"), Get("accuracy_after"), Percent, relative: false);
        Compare("Routing loss (first -> last step)", Get("routing_loss_first"), Get("routing_loss_last"), v => v.ToString("0.0000", Inv), relative: true);
        sb.AppendLine();
        sb.AppendLine("Before: the input student; after: the MoD student with the inference thresholds. FLOPs from the accounting with the measured share of image tokens kept per layer; latency: image encoding + LM prefill of a batch of test prompts to the first logits (LM prefill: the LM alone), wall clock, median of repeats after a warm-up, measured in the stage; CPU time: what the process spent on the same prefill, all threads (steadier than wall clock on a shared machine).").AppendLine();
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^(.+)_epoch(\d+)$")]
    private static partial System.Text.RegularExpressions.Regex EpochFigure();

    /// <summary>The result named "teacher" (any case), else null.</summary>
    private static EvaluationResult? Teacher(IReadOnlyList<EvaluationResult> results) =>
        results.FirstOrDefault(r => r.Model.Equals("teacher", StringComparison.OrdinalIgnoreCase));

    /// <summary>Chance level of the overall score: per-family chance weighted by question counts of the first result.</summary>
    internal static double OverallChance(IReadOnlyList<EvaluationResult> results)
    {
        var fams = results[0].Families;
        var total = fams.Sum(f => f.Total);
        return total == 0 ? fams.Select(f => f.Chance).DefaultIfEmpty(0).Average() : fams.Sum(f => f.Chance * f.Total) / total;
    }

    public static string Percent(double fraction) => (fraction * 100).ToString("0.0", Inv);

    /// <summary>1234 -> "1,234"; 2_345_678 -> "2.35M".</summary>
    public static string Params(long n) => n >= 1_000_000
        ? (n / 1e6).ToString("0.00", Inv) + "M"
        : n.ToString("#,0", Inv);

    public static string Duration(TimeSpan t) => t.TotalHours >= 1
        ? string.Create(Inv, $"{(long)t.TotalHours}h {t.Minutes:00}m {t.Seconds:00}s")
        : t.TotalMinutes >= 1
            ? string.Create(Inv, $"{t.Minutes}m {t.Seconds:00}s")
            : t.TotalSeconds.ToString("0.0", Inv) + "s";

    public static string Number(double v) => double.IsFinite(v)
        ? (Math.Abs(v) >= 1e6 || (v != 0 && Math.Abs(v) < 1e-3) ? v.ToString("0.###e0", Inv) : v.ToString("0.####", Inv))
        : v.ToString(Inv);

    private static void Row(StringBuilder sb, IReadOnlyList<string> cells) =>
        sb.Append("| ").Append(string.Join(" | ", cells.Select(Escape))).AppendLine(" |");

    private static string Escape(string s) => s.Replace("|", "\\|").Replace("\r", " ").Replace("\n", " ");
}
