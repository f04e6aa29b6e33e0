namespace Distill.Pipeline.Reporting;

/// <summary>One phase's loss against the optimiser steps of its training phase.</summary>
public sealed record LossSeries(string Phase, IReadOnlyList<double> Step, IReadOnlyList<double> Loss);

/// <summary>One training phase of a stage (a panel of its plot): its training loss per optimiser step, and the
/// held-out losses measured during it (validation loss, held-out KL), each at the step of the phase when it was
/// measured (0: before the first step).</summary>
public sealed record LossPanel(LossSeries Train, IReadOnlyList<LossSeries> HeldOut)
{
    public string Phase => Train.Phase;
}

/// <summary>The loss curves of one stage, one panel per training phase in the order they first reported.</summary>
public sealed record StageLossCurves(string Stage, IReadOnlyList<LossPanel> Panels);

/// <summary>Loss curves from <c>metrics.csv</c>: the finite <c>loss</c> rows of each stage. A phase that measures
/// (<see cref="IsHeldOut"/>) belongs to a training phase: the one its name extends
/// (<c>d2d-heldout</c> to <c>d2d</c>), else the one that last reported before it (else the next); a training phase
/// reports once per optimiser step, and a held-out point is placed at the last step its training phase had reported
/// when it was written, so both share the axis of optimiser steps. When a phase's step goes back (the stage ran again
/// after a failure), only its last run is kept.</summary>
public static class LossCurves
{
    public const string LossMetric = "loss";

    /// <summary>A phase that measures rather than trains: held out (<c>val</c>, a name with <c>heldout</c>), or the
    /// preference stage's <c>before</c> and <c>after</c> (its loss on the training pairs before the first step and
    /// after the last).</summary>
    public static bool IsHeldOut(string phase) =>
        phase is "val" or "before" or "after" || phase.Contains("heldout", StringComparison.OrdinalIgnoreCase);

    public static IReadOnlyList<StageLossCurves> From(IEnumerable<MetricPoint> points)
    {
        var stages = new List<(string Stage, List<(string Phase, List<(int Order, MetricPoint Point)> Points)> Phases)>();
        int order = 0;
        foreach (var p in points)
        {
            if (p.Metric != LossMetric || !double.IsFinite(p.Value)) continue;
            var stage = stages.FirstOrDefault(s => s.Stage == p.Stage);
            if (stage.Stage is null) stages.Add(stage = (p.Stage, []));
            var phase = stage.Phases.FirstOrDefault(x => x.Phase == p.Phase);
            if (phase.Phase is null) stage.Phases.Add(phase = (p.Phase, []));
            if (phase.Points.Count > 0 && p.Step < phase.Points[^1].Point.Step) phase.Points.Clear();
            phase.Points.Add((order++, p));
        }
        var curves = new List<StageLossCurves>();
        foreach (var (stage, phases) in stages)
        {
            var train = phases.Where(x => !IsHeldOut(x.Phase)).ToList();
            if (train.Count == 0) continue;
            var heldOut = train.ToDictionary(t => t.Phase, _ => new List<LossSeries>(), StringComparer.Ordinal);
            foreach (var (name, series) in phases.Where(x => IsHeldOut(x.Phase)))
            {
                var partner = Partner(name, series, train);
                var steps = series.Select(pt => (double)partner.Points.Where(t => t.Order < pt.Order).Select(t => t.Point.Step).LastOrDefault()).ToList();
                heldOut[partner.Phase].Add(new LossSeries(name, steps, series.Select(pt => pt.Point.Value).ToList()));
            }
            curves.Add(new StageLossCurves(stage, train
                .Select(t => new LossPanel(new LossSeries(t.Phase, t.Points.Select(pt => (double)pt.Point.Step).ToList(), t.Points.Select(pt => pt.Point.Value).ToList()), heldOut[t.Phase]))
                .ToList()));
        }
        return curves;
    }

    private static (string Phase, List<(int Order, MetricPoint Point)> Points) Partner(string name, List<(int Order, MetricPoint Point)> series,
        List<(string Phase, List<(int Order, MetricPoint Point)> Points)> train)
    {
        foreach (var t in train.OrderByDescending(t => t.Phase.Length))
            if (name.StartsWith(t.Phase + "-", StringComparison.Ordinal) || name.StartsWith(t.Phase + "_", StringComparison.Ordinal)) return t;
        var first = series[0].Order;
        var before = train.Where(t => t.Points[0].Order < first).OrderByDescending(t => t.Points[0].Order).FirstOrDefault();
        return before.Phase is not null ? before : train.OrderBy(t => t.Points[0].Order).First();
    }
}
