using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Stages.Losses;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill.mimic</c> phases and losses and <c>distill.model.student.moe</c>: defaults, binding, every
/// validation error naming its key.</summary>
public class StudentScheduleConfigTests
{
    [Fact]
    public void Defaults_bind_the_mimic_schedule_losses_and_the_student_moe()
    {
        var s = Cfg.Load().Settings;
        Assert.Equal((0, 3, 3), (s.Mimic.ProjectorWarmupEpochs, s.Mimic.D2dEpochs, s.Mimic.D2sEpochs));
        Assert.Equal((Divergence.ForwardKl, 0.5, 1.0, 0.01, false),
            (s.Mimic.Loss, s.Mimic.JsdBeta, s.Mimic.Temperature, s.Mimic.AuxWeight, s.Mimic.TeacherGeneratedResponses));
        var moe = s.Model.StudentMoe;
        Assert.Equal((true, 4, 2, 1.5, 0.0), (moe.Enabled, moe.Experts, moe.TopK, moe.TrainCapacityFactor, moe.EvalCapacityFactor));
        Assert.Null(moe.Layers);                                     // every-other

        var tiny = Cfg.Load("tiny").Settings;
        Assert.Equal((0, 1, 1), (tiny.Mimic.ProjectorWarmupEpochs, tiny.Mimic.D2dEpochs, tiny.Mimic.D2sEpochs));
    }

    [Fact]
    public void Loss_options_placement_lists_and_booleans_bind()
    {
        var c = Cfg.Load("tiny", null, "distill.mimic.loss=jsd", "distill.mimic.jsd-beta=0.25", "distill.mimic.temperature=2",
            "distill.model.student.layers=4", "distill.model.student.moe.placement=[3, 1]", "distill.model.student.moe.experts=8",
            "distill.model.student.moe.top-k=1", "distill.mimic.teacher-generated-responses=on", "distill.mimic.projector-warmup-epochs=2");
        var s = c.Settings;
        Assert.Equal((Divergence.Jsd, 0.25, 2.0, true, 2), (s.Mimic.Loss, s.Mimic.JsdBeta, s.Mimic.Temperature, s.Mimic.TeacherGeneratedResponses, s.Mimic.ProjectorWarmupEpochs));
        Assert.Equal([1, 3], s.Model.StudentMoe.Layers!);
        Assert.Equal((8, 1), (s.Model.StudentMoe.Experts, s.Model.StudentMoe.TopK));

        // The resolved HOCON renders list and boolean back so that they parse to the same settings.
        var hocon = c.ToHocon();
        Assert.Contains("placement = [1, 3]", hocon);
        Assert.Contains("teacher-generated-responses = true", hocon);
        using var t = new TempDir();
        var again = Cfg.Load("demo", t.File("resolved.conf", hocon)).Settings;
        Assert.Equal([1, 3], again.Model.StudentMoe.Layers!);
        Assert.True(again.Mimic.TeacherGeneratedResponses);
    }

    [Fact]
    public void Moe_settings_become_the_upcycling_config_and_the_shared_schedule()
    {
        using var t = new TempDir();
        var s = Cfg.Load("tiny", null, "distill.model.student.layers=3", "distill.model.student.moe.placement=[2]",
            "distill.mimic.aux-weight=0.05", "distill.mimic.projector-warmup-epochs=1").Settings;
        var catalog = new StageCatalog(s, Runs.RunPaths.For(t.Path), null!, "fp");
        var moe = catalog.StudentMoe!;
        Assert.Equal((4, 2, 1.5, 0.0, 0.05), (moe.Experts, moe.TopK, moe.TrainCapacityFactor, moe.EvalCapacityFactor, moe.AuxLossCoefficient));
        Assert.Equal([2], moe.Layers!);
        Assert.Equal(new Stages.Students.StudentSchedule(1, 1, 1, moe), catalog.StudentSchedule);

        var dense = Cfg.Load("tiny", null, "distill.model.student.moe.enabled=false", "distill.mimic.d2s-epochs=0").Settings;
        var denseCatalog = new StageCatalog(dense, Runs.RunPaths.For(t.Path), null!, "fp");
        Assert.Null(denseCatalog.StudentMoe);
        Assert.False(denseCatalog.StudentSchedule.UpcyclesToMoe);
    }

    [Theory]
    [InlineData("distill.model.student.moe.top-k=5", "distill.model.student.moe.top-k (5) must not exceed distill.model.student.moe.experts (4)")]
    [InlineData("distill.model.student.moe.placement=[0, 4]", "distill.model.student.moe.placement: layer(s) 4 outside the student's 4 layer(s) (0..3)")]
    [InlineData("distill.model.student.moe.placement=[]", "distill.model.student.moe.placement: expected every-other or a non-empty list")]
    [InlineData("distill.model.student.moe.placement=[0, 0]", "layer 0 appears twice")]
    [InlineData("distill.model.student.moe.placement=[-1]", "item '-1' is not a layer index")]
    [InlineData("distill.model.student.moe.placement=every-third", "distill.model.student.moe.placement: expected every-other or a non-empty list")]
    [InlineData("distill.model.student.moe.enabled=maybe", "distill.model.student.moe.enabled: expected true or false (also on / off, yes / no), got 'maybe'")]
    [InlineData("distill.model.student.moe.train-capacity-factor=0", "distill.model.student.moe.train-capacity-factor: 0 is out of range")]
    [InlineData("distill.model.student.moe.enabled=false", "distill.mimic.d2s-epochs (3) needs distill.model.student.moe.enabled = true")]
    [InlineData("distill.mimic.loss=kl", "distill.mimic.loss: 'kl' is not allowed; allowed: forward-kl, reverse-kl, jsd")]
    [InlineData("distill.mimic.jsd-beta=1", "distill.mimic.jsd-beta: 1 is out of range; allowed: a number in (0, 1)")]
    [InlineData("distill.mimic.jsd-beta=0", "distill.mimic.jsd-beta: 0 is out of range; allowed: a number in (0, 1)")]
    [InlineData("distill.mimic.temperature=0", "distill.mimic.temperature: 0 is out of range")]
    [InlineData("distill.mimic.aux-weight=-0.1", "distill.mimic.aux-weight: -0.1 is out of range")]
    [InlineData("distill.mimic.d2d-epochs=-1", "distill.mimic.d2d-epochs: -1 is out of range")]
    [InlineData("distill.mimic.teacher-generated-responses=1", "distill.mimic.teacher-generated-responses: expected true or false (also on / off, yes / no), got '1'")]
    public void A_bad_value_is_one_error_naming_the_key(string define, string expected)
    {
        var error = Cfg.Single(Cfg.Errors("demo", null, define));
        Assert.Contains(expected, error);
    }

    [Fact]
    public void Cross_checks_of_the_schedule()
    {
        var none = Cfg.Single(Cfg.Errors("demo", null, "distill.mimic.d2d-epochs=0", "distill.mimic.d2s-epochs=0"));
        Assert.Contains("distill.mimic.d2d-epochs and distill.mimic.d2s-epochs are both 0", none);
        var warmup = Cfg.Single(Cfg.Errors("demo", null, "distill.mimic.projector-warmup-epochs=1", "distill.data.families=[colour, shape]"));
        Assert.Contains("distill.mimic.projector-warmup-epochs (1) trains the projector on captions", warmup);
        Assert.Contains("no 'caption'", warmup);
        // A dense student needs no D2S epochs; the placement is not checked against the layers then.
        var dense = Cfg.Load("demo", null, "distill.model.student.moe.enabled=false", "distill.mimic.d2s-epochs=0",
            "distill.model.student.moe.placement=[5]").Settings;
        Assert.False(dense.Model.StudentMoe.Enabled);
        // D2S alone (no D2D) is allowed: the fresh student is upcycled at once.
        Assert.Equal(0, Cfg.Load("demo", null, "distill.mimic.d2d-epochs=0").Settings.Mimic.D2dEpochs);
    }

    [Fact]
    public void Sft_runs_between_teacher_and_mimic_and_needs_a_teacher()
    {
        Assert.Contains("'sft' cannot run after 'mimic'", Cfg.Single(Cfg.Errors("demo", null, "distill.stages=[teacher, mimic, sft]")));
        Assert.Contains("'sft' needs a teacher", Cfg.Single(Cfg.Errors("demo", null, "distill.stages=[sft]")));
    }
}
