using System.Globalization;
using System.Text;
using Distill.Models.IO;
using Distill.Pipeline.Reporting;
using Distill.Stages.Evaluation;
using ScottPlot;

namespace Distill.Pipeline.Study;

/// <summary>The files of a study in its directory: <c>study.csv</c> (every figure: mean, std, count, each seed's
/// value), <c>study.md</c> (the runs, the targets on the mean with how many seeds meet each, and the main figures per
/// model as mean ± std) and <c>study.png</c> (overall accuracy per model: mean, spread and each seed, chance marked).</summary>
public static class StudyReport
{
    public const string CsvFile = "study.csv";
    public const string MarkdownFile = "study.md";
    public const string PlotFile = "study.png";
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>The per-model columns of the Markdown table: figure suffix and header.</summary>
    private static readonly (string Suffix, string Header, bool Percent)[] Columns =
    [
        (".overall", "Accuracy %", true),
        (".chair_i", "CHAIR_i %", true),
        (".tokens_per_s_b1", "Tokens/s (batch 1)", false),
        (".prefill_ms_b1", "Prefill ms (batch 1)", false),
        (".prefill_ms_batch", "Prefill ms (eval batch)", false),
    ];

    public static (string Csv, string Markdown) Write(string root, StudyResult result)
    {
        var passed = result.Passed;
        var stats = StudyStatistics.Of(passed.Select(r => r.Figures!).ToList());
        var csv = Path.Combine(root, CsvFile);
        var md = Path.Combine(root, MarkdownFile);
        AtomicFile.WriteAllText(csv, Csv(stats, passed.Select(r => r.Seed).ToList()));
        string? plotError = null;
        try
        {
            if (stats.Count > 0) Plot(stats, passed.Select(r => r.Seed).ToList(), Path.Combine(root, PlotFile));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            plotError = $"{e.GetType().Name}: {e.Message}";
        }
        AtomicFile.WriteAllText(md, Markdown(Path.GetFileName(Path.GetFullPath(root)), result, stats, plotError));
        return (csv, md);
    }

    public static string Csv(IReadOnlyList<StudyStatistic> stats, IReadOnlyList<int> seeds)
    {
        var sb = new StringBuilder("key,mean,std,count,min,max");
        foreach (var seed in seeds) sb.Append(",seed_").Append(seed.ToString(Inv));
        sb.AppendLine();
        foreach (var s in stats)
        {
            sb.Append(s.Key).Append(',').Append(N(s.Mean)).Append(',').Append(N(s.Std)).Append(',').Append(s.Count.ToString(Inv))
              .Append(',').Append(N(s.Min)).Append(',').Append(N(s.Max));
            foreach (var v in s.Values) sb.Append(',').Append(double.IsFinite(v) ? N(v) : "");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>The models of the figures, in the pipeline's order (teacher, sft, dense, moe, preference, mod), then any other.</summary>
    public static IReadOnlyList<string> Models(IEnumerable<string> keys)
    {
        var order = new[] { "teacher" }.Concat(ModelLineup.Students.Select(s => s.Name)).ToList();
        return keys.Where(k => k.EndsWith(".overall", StringComparison.Ordinal) && k != RunFigures.OverallChance)
            .Select(k => k[..^".overall".Length])
            .OrderBy(m => order.IndexOf(m) is var i && i >= 0 ? i : order.Count).ThenBy(m => m, StringComparer.Ordinal).ToList();
    }

    public static string Markdown(string name, StudyResult result, IReadOnlyList<StudyStatistic> stats, string? plotError = null)
    {
        var passed = result.Passed;
        var sb = new StringBuilder();
        sb.Append("# Distill study: ").AppendLine(name).AppendLine();
        sb.Append("- Preset: ").AppendLine(result.Preset);
        sb.Append("- Stages: ").AppendLine(string.Join(" -> ", result.Stages));
        sb.Append("- Seeds: ").Append(string.Join(", ", result.Runs.Select(r => r.Seed.ToString(Inv))))
          .Append(" (").Append(passed.Count.ToString(Inv)).Append(" finished, ").Append(result.Failed.ToString(Inv)).AppendLine(" failed)");
        sb.Append("- Each run: `").Append(result.Command).AppendLine("`");
        sb.AppendLine("- Mean ± sample standard deviation over the finished runs; each seed trains its own teacher (kept in the teacher store).").AppendLine();

        sb.AppendLine("| Seed | Status | Wall time | Directory |").AppendLine("|---:|---|---:|---|");
        foreach (var r in result.Runs)
        {
            var status = r.Passed ? (r.Reused ? "finished (read back)" : "finished") : $"FAILED (exit {r.ExitCode}): {r.Error}";
            var wall = double.IsFinite(r.Seconds) ? ReportWriter.Duration(TimeSpan.FromSeconds(r.Seconds)) : "–";
            sb.Append("| ").Append(r.Seed.ToString(Inv)).Append(" | ").Append(Cell(status)).Append(" | ").Append(wall).Append(" | ")
              .Append(Cell(Path.GetFileName(r.Directory))).AppendLine(" |");
        }
        sb.AppendLine();
        if (passed.Count == 0)
        {
            sb.AppendLine("No run finished: nothing to aggregate.");
            return sb.ToString();
        }

        var onMean = Targets.Check(StudyStatistics.Means(stats));
        var perSeed = passed.Select(r => Targets.Check(r.Figures!)).ToList();
        ReportWriter.AppendTargets(sb, onMean, $"Checked on the mean over {passed.Count} seed(s); the last column counts the seeds whose own run meets it.",
            ("Seeds met", target => $"{perSeed.Count(checks => checks.First(c => c.Name == target.Name).Met == true)} of {passed.Count}"));

        var byKey = stats.ToDictionary(s => s.Key, StringComparer.Ordinal);
        var settings = stats.Select(s => s.Key).Where(k => k.Contains(".pope_", StringComparison.Ordinal) && k.EndsWith("_f1", StringComparison.Ordinal))
            .Select(k => k[(k.IndexOf(".pope_", StringComparison.Ordinal) + ".pope_".Length)..^"_f1".Length]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        sb.Append("## Models (mean ± std over ").Append(passed.Count.ToString(Inv)).AppendLine(" seeds)").AppendLine();
        var header = new List<string> { "Model" };
        header.AddRange(Columns.Select(c => c.Header));
        header.AddRange(settings.Select(s => $"POPE F1 {s} %"));
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|---|" + string.Concat(Enumerable.Repeat("---:|", header.Count - 1)));
        foreach (var model in Models(stats.Select(s => s.Key)))
        {
            var cells = new List<string> { model };
            cells.AddRange(Columns.Select(c => Spread(byKey, model + c.Suffix, c.Percent)));
            cells.AddRange(settings.Select(s => Spread(byKey, RunFigures.PopeF1(model, s), percent: true)));
            sb.AppendLine("| " + string.Join(" | ", cells) + " |");
        }
        if (byKey.TryGetValue(RunFigures.OverallChance, out var chance))
            sb.Append("Chance level of the overall accuracy: ").Append(Pct(chance.Mean)).AppendLine("%.");
        sb.AppendLine().Append("Every figure of every seed: ").Append(CsvFile).AppendLine(".").AppendLine();
        sb.AppendLine(plotError is null ? $"![Overall accuracy per model over the seeds]({PlotFile})" : $"_Plot not drawn: {plotError}_");
        return sb.ToString();
    }

    private static void Plot(IReadOnlyList<StudyStatistic> stats, IReadOnlyList<int> seeds, string path)
    {
        var models = Models(stats.Select(s => s.Key));
        var byKey = stats.ToDictionary(s => s.Key, StringComparer.Ordinal);
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int m = 0; m < models.Count; m++)
        {
            var s = byKey[RunFigures.Overall(models[m])];
            plot.Add.Bars(new[] { new Bar { Position = m, Value = s.Mean * 100, Error = s.Std * 100, Size = 0.6, FillColor = palette.GetColor(m).WithAlpha(0.6) } });
            var xs = s.Values.Select((v, i) => (v, i)).Where(p => double.IsFinite(p.v)).Select(p => m - 0.15 + 0.3 * (p.i + 0.5) / s.Values.Count).ToArray();
            var ys = s.Values.Where(double.IsFinite).Select(v => v * 100).ToArray();
            var dots = plot.Add.ScatterPoints(xs, ys, Colors.Black);
            dots.MarkerSize = 6;
        }
        if (byKey.TryGetValue(RunFigures.OverallChance, out var chance))
        {
            var line = plot.Add.HorizontalLine(chance.Mean * 100, 2, Colors.Black, LinePattern.Dashed);
            line.LegendText = "chance";
        }
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "mean ± std", FillColor = Colors.Gray.WithAlpha(0.6) });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = $"one seed ({string.Join(", ", seeds)})", MarkerColor = Colors.Black, MarkerShape = MarkerShape.FilledCircle, MarkerSize = 6 });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, models.Count).Select(m => (double)m).ToArray(), models.ToArray());
        plot.Axes.SetLimitsY(0, 110);
        plot.Axes.SetLimitsX(-0.6, models.Count - 0.4);
        plot.Title($"Overall accuracy over {seeds.Count} seeds (test split, exact match)");
        plot.YLabel("accuracy (%)");
        plot.SavePng(path, 900, 500);
    }

    private static string Spread(IReadOnlyDictionary<string, StudyStatistic> stats, string key, bool percent)
    {
        if (!stats.TryGetValue(key, out var s)) return "–";
        return percent ? $"{Pct(s.Mean)} ± {Pct(s.Std)}" : $"{s.Mean.ToString("0.0", Inv)} ± {s.Std.ToString("0.0", Inv)}";
    }

    private static string Pct(double fraction) => (fraction * 100).ToString("0.0", Inv);
    private static string N(double v) => v.ToString("R", Inv);
    private static string Cell(string s) => s.Replace("|", "\\|").Replace("\n", " ").Replace("\r", " ");
}
