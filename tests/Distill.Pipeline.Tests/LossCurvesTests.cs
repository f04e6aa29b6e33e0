using Distill.Pipeline.Reporting;

namespace Distill.Pipeline.Tests;

public class LossCurvesTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static int _second;
    private static MetricPoint P(string stage, string phase, long step, double loss, string metric = "loss") =>
        new(T0.AddSeconds(_second++), stage, phase, step, metric, loss);

    [Fact]
    public void One_panel_per_training_phase_with_its_held_out_losses_at_the_step_they_were_measured()
    {
        var curves = LossCurves.From([
            P("data", "prepare", 0, double.NaN),
            P("teacher", "train", 1, 4.0),
            P("teacher", "train", 1, 99, "samples_per_s"),
            P("teacher", "train", 2, 3.5),
            P("mimic", "d2d-heldout", 0, 0.9),   // epoch 0: before the first step
            P("teacher", "val", 1, 3.25),
            P("teacher", "train", 3, 3.0),
            P("mimic", "d2d", 1, 5.0),
            P("mimic", "d2d", 2, 4.0),
            P("mimic", "d2d-heldout", 1, 0.5),   // epoch 1: after step 2
            P("mimic", "d2s-heldout", 0, 0.45),
            P("mimic", "d2s", 1, 3.0),
            P("eval", "teacher", 6, double.NaN),
        ]);
        Assert.Equal(["teacher", "mimic"], curves.Select(c => c.Stage));
        var teacher = curves[0].Panels.Single();
        Assert.Equal("train", teacher.Phase);
        Assert.Equal([1.0, 2.0, 3.0], teacher.Train.Step);
        Assert.Equal([4.0, 3.5, 3.0], teacher.Train.Loss);
        var val = teacher.HeldOut.Single();
        Assert.Equal(("val", 2.0, 3.25), (val.Phase, val.Step.Single(), val.Loss.Single()));

        var mimic = curves[1].Panels;
        Assert.Equal(["d2d", "d2s"], mimic.Select(p => p.Phase));
        Assert.Equal([0.0, 2.0], mimic[0].HeldOut.Single().Step);
        Assert.Equal([0.9, 0.5], mimic[0].HeldOut.Single().Loss);
        Assert.Equal(("d2s-heldout", 0.0), (mimic[1].HeldOut.Single().Phase, mimic[1].HeldOut.Single().Step.Single()));
    }

    [Fact]
    public void A_held_out_phase_not_named_after_a_training_phase_joins_the_one_that_last_reported()
    {
        var curves = LossCurves.From([
            P("mod", "heldout-kl", 0, 0.30),     // before any step: the next training phase
            P("mod", "distill", 1, 2.0),
            P("mod", "distill", 2, 1.5),
            P("mod", "heldout-kl", 1, 0.20),
            P("preference", "before", 0, 0.69),
            P("preference", "distill", 1, 0.6),
            P("preference", "after", 1, 0.4),
        ]);
        var mod = curves[0].Panels.Single();
        Assert.Equal([0.0, 2.0], mod.HeldOut.Single().Step);
        var preference = curves[1].Panels.Single();
        Assert.Equal(["before", "after"], preference.HeldOut.Select(h => h.Phase));
        Assert.Equal([0.0, 1.0], preference.HeldOut.Select(h => h.Step.Single()));
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
        var distill = curves.Single().Panels.Single().Train;
        Assert.Equal([4.0, 1.5], distill.Loss);
        Assert.Equal([0.0, 3.0], distill.Step);
    }
}
