using Distill.Pipeline.Reporting;

namespace Distill.Pipeline.Tests;

public class LossCurvesTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static int _second;
    private static MetricPoint P(string stage, string phase, long step, double loss, string metric = "loss") =>
        new(T0.AddSeconds(_second++), stage, phase, step, metric, loss);

    [Fact]
    public void One_curve_per_stage_phases_on_the_order_of_the_stage_reports()
    {
        var curves = LossCurves.From([
            P("data", "prepare", 0, double.NaN),
            P("teacher", "train", 1, 4.0),
            P("teacher", "train", 1, 99, "samples_per_s"),
            P("teacher", "train", 2, 3.5),
            P("mimic", "heldout-kl", 0, 0.9),
            P("teacher", "val", 1, 3.25),
            P("teacher", "train", 3, 3.0),
            P("eval", "teacher", 6, double.NaN),
        ]);
        Assert.Equal(["teacher", "mimic"], curves.Select(c => c.Stage));
        var teacher = curves[0];
        Assert.Equal(["train", "val"], teacher.Phases.Select(p => p.Phase));
        Assert.Equal([1.0, 2.0, 4.0], teacher.Phases[0].Report);
        Assert.Equal([4.0, 3.5, 3.0], teacher.Phases[0].Loss);
        Assert.Equal([3.0], teacher.Phases[1].Report);
        Assert.Equal([3.25], teacher.Phases[1].Loss);
        Assert.Equal([1.0], curves[1].Phases.Single().Report);
    }

    [Fact]
    public void A_rerun_of_a_phase_keeps_only_its_last_run()
    {
        var curves = LossCurves.From([
            P("mimic", "distill", 0, 5.0),
            P("mimic", "distill", 7, 2.0),   // the stage failed here
            P("mimic", "distill", 0, 4.0),   // and ran again
            P("mimic", "distill", 3, 1.5),
        ]);
        var distill = curves.Single().Phases.Single();
        Assert.Equal([4.0, 1.5], distill.Loss);
        Assert.Equal([1.0, 2.0], distill.Report);
    }
}
