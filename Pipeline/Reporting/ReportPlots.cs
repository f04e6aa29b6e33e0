using System.Text.RegularExpressions;
using Distill.Stages.Evaluation;
using ScottPlot;

namespace Distill.Pipeline.Reporting;

/// <summary>A PNG drawn for the report. <see cref="Kind"/> says which section links it: <c>loss</c>, <c>arank</c>,
/// <c>accuracy</c>, <c>latency</c>. <see cref="RelativePath"/> is relative to report.md (forward slashes).
/// <see cref="Error"/>: why the plot could not be drawn (the report says so instead of linking it); null when drawn.</summary>
public sealed record ReportPlot(string Kind, string Title, string RelativePath)
{
    public string? Error { get; init; }
}

/// <summary>The report's plots, drawn with ScottPlot into <c>&lt;run&gt;/report/</c>: loss curves per stage (from
/// metrics.csv), ARank per decoder layer (from the <c>arank.layerN</c> figures), accuracy per family and model
/// (bars, chance marked), and prefill latency against FLOPs per token (one labelled point per model). A plot whose
/// data is missing is not drawn; one that fails to draw is reported with its error (the report is still written).</summary>
public static partial class ReportPlots
{
    public const string Folder = "report";
    private const int Width = 900, Height = 500;

    public static IReadOnlyList<ReportPlot> Draw(ReportInput input, string reportDir)
    {
        var dir = Path.Combine(reportDir, Folder);
        Directory.CreateDirectory(dir);
        var plots = new List<ReportPlot>();
        foreach (var curves in LossCurves.From(input.Metrics))
            plots.Add(Try("loss", $"Loss curves of stage {curves.Stage}", $"loss-{FileSafe(curves.Stage)}.png", () => Loss(curves, dir)));
        if (ARank(input.Stages) is { } arank)
            plots.Add(Try("arank", "ARank per decoder layer", "arank.png", () => ARankPlot(arank, dir)));
        if (input.Results.Count > 0)
            plots.Add(Try("accuracy", "Accuracy per family and model", "accuracy.png", () => Accuracy(input.Results, dir)));
        var timed = input.Results.Where(r => r.Speed is not null && r.FlopsPerToken > 0).ToList();
        if (timed.Count > 0)
            plots.Add(Try("latency", "Prefill latency vs FLOPs per token", "latency-vs-flops.png", () => Latency(timed, dir)));
        return plots;
    }

    private static ReportPlot Try(string kind, string title, string file, Func<ReportPlot> draw)
    {
        try
        {
            return draw();
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ReportPlot(kind, title, $"{Folder}/{file}") { Error = $"{e.GetType().Name}: {e.Message}" };
        }
    }

    /// <summary>One panel per training phase, stacked: its loss per optimiser step (left axis), and the held-out
    /// losses measured during it at the step they were measured (right axis, its own scale: a held-out KL is not on
    /// the training loss's scale).</summary>
    private static ReportPlot Loss(StageLossCurves curves, string dir)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(curves.Panels.Count);
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < curves.Panels.Count; i++)
        {
            var panel = curves.Panels[i];
            var plot = multiplot.GetPlot(i);
            var train = plot.Add.Scatter(panel.Train.Step.ToArray(), panel.Train.Loss.ToArray(), palette.GetColor(0));
            train.LegendText = $"{panel.Phase}: training loss";
            train.MarkerSize = panel.Train.Loss.Count <= 20 ? 6 : 0;
            train.LineWidth = panel.Train.Loss.Count > 1 ? 2 : 0;
            for (int h = 0; h < panel.HeldOut.Count; h++)
            {
                var series = panel.HeldOut[h];
                var held = plot.Add.Scatter(series.Step.ToArray(), series.Loss.ToArray(), palette.GetColor(h + 1));
                held.LegendText = series.Phase + " (right axis)";
                held.MarkerSize = 7;
                held.LineWidth = series.Loss.Count > 1 ? 2 : 0;
                held.LinePattern = LinePattern.Dashed;
                held.Axes.YAxis = plot.Axes.Right;
            }
            if (panel.HeldOut.Count > 0) plot.Axes.Right.Label.Text = "held-out / measured loss";
            plot.ShowLegend(Alignment.UpperRight);
            plot.Title($"stage {curves.Stage}, phase {panel.Phase}");
            plot.XLabel("optimiser step of the phase");
            plot.YLabel("training loss");
        }
        var file = $"loss-{FileSafe(curves.Stage)}.png";
        multiplot.SavePng(Path.Combine(dir, file), Width, Math.Max(Height, 320 * curves.Panels.Count));
        return new ReportPlot("loss", $"Loss curves of stage {curves.Stage}", $"{Folder}/{file}");
    }

    /// <summary>ARank of each decoder layer and the other per-layer figures of the stage that reported it.</summary>
    public sealed record ARankData(string Stage, IReadOnlyDictionary<int, double> ARank, IReadOnlyDictionary<string, IReadOnlyDictionary<int, double>> Other);

    /// <summary>The <c>arank.layerN</c> figures of the last stage that has them, with that stage's other per-layer
    /// figures (<c>name.layerN</c> or <c>name_layerN</c>); null when no stage has any.</summary>
    public static ARankData? ARank(IReadOnlyList<StageSummary> stages)
    {
        foreach (var stage in stages.Reverse())
        {
            var perLayer = stage.Figures
                .Select(kv => (Match: LayerFigure().Match(kv.Key), kv.Value))
                .Where(x => x.Match.Success)
                .GroupBy(x => x.Match.Groups[1].Value, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => (IReadOnlyDictionary<int, double>)g.ToDictionary(x => int.Parse(x.Match.Groups[2].Value), x => x.Value), StringComparer.Ordinal);
            if (!perLayer.TryGetValue("arank", out var arank)) continue;
            perLayer.Remove("arank");
            return new ARankData(stage.Stage, arank, perLayer);
        }
        return null;
    }

    [GeneratedRegex(@"^(.+?)[._]layer(\d+)$")]
    private static partial Regex LayerFigure();

    private static ReportPlot ARankPlot(ARankData data, string dir)
    {
        var converted = data.Other.FirstOrDefault(kv => kv.Key.Contains("convert", StringComparison.OrdinalIgnoreCase)).Value;
        using var plot = new Plot();
        var bars = data.ARank.OrderBy(kv => kv.Key).Select(kv => new Bar
        {
            Position = kv.Key,
            Value = kv.Value,
            FillColor = converted is not null && converted.TryGetValue(kv.Key, out var c) && c != 0 ? Colors.OrangeRed : Colors.SteelBlue,
        }).ToArray();
        plot.Add.Bars(bars);
        var layers = data.ARank.Keys.Order().ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            layers.Select(l => (double)l).ToArray(), layers.Select(l => $"layer {l}").ToArray());
        if (converted is not null)
        {
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "converted to MoD", FillColor = Colors.OrangeRed });
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = "kept dense", FillColor = Colors.SteelBlue });
            plot.ShowLegend(Alignment.UpperRight);
        }
        plot.Axes.Margins(bottom: 0);
        plot.Title($"ARank per decoder layer (stage {data.Stage})");
        plot.YLabel("ARank (mean attention-map rank)");
        return Save(plot, dir, "arank.png", "arank", "ARank per decoder layer");
    }

    private static ReportPlot Accuracy(IReadOnlyList<EvaluationResult> results, string dir)
    {
        var families = results.SelectMany(r => r.Families.Select(f => f.Family)).Distinct(StringComparer.Ordinal).ToList();
        var groups = families.Append("overall").ToList();
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        double width = 0.8 / results.Count;
        for (int m = 0; m < results.Count; m++)
        {
            var r = results[m];
            var bars = new List<Bar>();
            for (int g = 0; g < groups.Count; g++)
            {
                double? value = groups[g] == "overall" ? r.Overall
                    : r.Families.FirstOrDefault(f => f.Family == groups[g]) is { Total: > 0 } f ? f.Accuracy : null;
                if (value is null) continue;
                bars.Add(new Bar { Position = g - 0.4 + width * (m + 0.5), Value = value.Value * 100, Size = width * 0.9, FillColor = palette.GetColor(m) });
            }
            plot.Add.Bars(bars);
            plot.Legend.ManualItems.Add(new LegendItem { LabelText = r.Model, FillColor = palette.GetColor(m) });
        }
        for (int g = 0; g < families.Count; g++)
        {
            var chance = results.SelectMany(r => r.Families).First(f => f.Family == families[g]).Chance * 100;
            var mark = plot.Add.Line(g - 0.45, chance, g + 0.45, chance);
            mark.Color = Colors.Black;
            mark.LineWidth = 2;
            mark.LinePattern = LinePattern.Dashed;
        }
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "chance", LineColor = Colors.Black, LineWidth = 2, LinePattern = LinePattern.Dashed });
        plot.ShowLegend(Alignment.UpperRight);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, groups.Count).Select(g => (double)g).ToArray(), groups.ToArray());
        plot.Axes.SetLimitsY(0, 119);
        plot.Axes.SetLimitsX(-0.6, groups.Count - 0.4);
        plot.Title("Accuracy per question family (test split, exact match)");
        plot.YLabel("accuracy (%)");
        return Save(plot, dir, "accuracy.png", "accuracy", "Accuracy per family and model");
    }

    private static ReportPlot Latency(IReadOnlyList<EvaluationResult> results, string dir)
    {
        using var plot = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        for (int i = 0; i < results.Count; i++)
        {
            var r = results[i];
            double x = r.FlopsPerToken / 1e6, y = r.Speed!.PrefillMs;
            var point = plot.Add.ScatterPoints(new[] { x }, new[] { y }, palette.GetColor(i));
            point.MarkerSize = 10;
            var label = plot.Add.Text(r.Model, x, y);
            label.OffsetX = 8;
            label.OffsetY = -8;
            label.LabelFontSize = 14;
        }
        // From the origin, so that a model's distance from it reads as cost (and proportionality shows as a line).
        plot.Axes.SetLimits(0, results.Max(r => r.FlopsPerToken) / 1e6 * 1.25, 0, results.Max(r => r.Speed!.PrefillMs) * 1.2);
        plot.Title("Prefill latency vs forward FLOPs per token");
        plot.XLabel("forward MFLOPs per token (accounting)");
        plot.YLabel("prefill latency, batch 1 (ms, median)");
        return Save(plot, dir, "latency-vs-flops.png", "latency", "Prefill latency vs FLOPs per token");
    }

    private static ReportPlot Save(Plot plot, string dir, string file, string kind, string title)
    {
        plot.SavePng(Path.Combine(dir, file), Width, Height);
        return new ReportPlot(kind, title, $"{Folder}/{file}");
    }

    private static string FileSafe(string name) => new(name.Select(c => char.IsLetterOrDigit(c) || c is '-' or '_' ? c : '_').ToArray());
}
