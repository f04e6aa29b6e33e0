namespace Distill.Pipeline.Reporting;

/// <summary>One phase's loss: <see cref="Report"/> is the 1-based position of each point among the stage's loss
/// reports (all phases together, in the order they were written).</summary>
public sealed record LossSeries(string Phase, IReadOnlyList<double> Report, IReadOnlyList<double> Loss);

/// <summary>The loss curves of one stage, phases in the order they first reported.</summary>
public sealed record StageLossCurves(string Stage, IReadOnlyList<LossSeries> Phases);

/// <summary>Loss curves from <c>metrics.csv</c>: the finite <c>loss</c> rows of each stage (training steps,
/// validation and held-out points alike) on one axis per stage, the order of the reports, so phases that count
/// steps differently (optimizer steps, shards, epochs) line up where they happened; a training phase reports once
/// per step, so along a training phase the axis counts its steps. When a phase's step goes back (the stage ran again
/// after a failure), only the phase's last run is kept.</summary>
public static class LossCurves
{
    public const string LossMetric = "loss";

    public static IReadOnlyList<StageLossCurves> From(IEnumerable<MetricPoint> points)
    {
        var byStage = new List<(string Stage, List<(string Phase, List<(int Order, MetricPoint Point)> Points)> Phases)>();
        int order = 0;
        foreach (var p in points)
        {
            if (p.Metric != LossMetric || !double.IsFinite(p.Value)) continue;
            var stage = byStage.FirstOrDefault(s => s.Stage == p.Stage);
            if (stage.Stage is null) byStage.Add(stage = (p.Stage, []));
            var phase = stage.Phases.FirstOrDefault(x => x.Phase == p.Phase);
            if (phase.Phase is null) stage.Phases.Add(phase = (p.Phase, []));
            if (phase.Points.Count > 0 && p.Step < phase.Points[^1].Point.Step) phase.Points.Clear();
            phase.Points.Add((order++, p));
        }
        var curves = new List<StageLossCurves>();
        foreach (var (stage, phases) in byStage)
        {
            var rank = phases.SelectMany(x => x.Points.Select(pt => pt.Order)).Order()
                .Select((o, i) => (o, i)).ToDictionary(x => x.o, x => x.i + 1.0);
            curves.Add(new StageLossCurves(stage, phases
                .Select(x => new LossSeries(x.Phase,
                    x.Points.Select(pt => rank[pt.Order]).ToList(),
                    x.Points.Select(pt => pt.Point.Value).ToList()))
                .ToList()));
        }
        return curves;
    }
}
