using Distill.Models.Accounting;
using Distill.Pipeline.Composition;

namespace Distill.Pipeline.Tests;

/// <summary>The student sizes of the presets against the teacher's: activated parameters per token of the upcycled
/// MoE student (shared weights + top-k experts) as a share of the teacher's, with the Shapes vocabulary.</summary>
public class PresetSizeTests
{
    private const int Vocab = 51, ImageId = 4;

    private static double ActivatedShare(string preset)
    {
        var s = Cfg.Load(preset).Settings;
        long student = ParameterAccounting.Activated(ModelConfigs.UpcycledStudent(s, Vocab, ImageId));
        long teacher = ParameterAccounting.Activated(ModelConfigs.Teacher(s, Vocab, ImageId));
        return student / (double)teacher;
    }

    [Fact]
    public void The_compact_student_activates_at_most_35_percent_of_the_teachers_parameters()
    {
        Assert.InRange(ActivatedShare("compact"), 0.30, 0.35);
        var compact = Cfg.Load("compact").Settings;
        var demo = Cfg.Load().Settings;
        Assert.Equal((64, 160), (compact.Model.Student.HiddenSize, compact.Model.Student.IntermediateSize));
        Assert.Equal(demo.Model.Teacher, compact.Model.Teacher);       // same teacher: its cache and checkpoint carry over
        Assert.Equal(demo.Model.Student.Layers, compact.Model.Student.Layers);
    }

    [Fact]
    public void The_demo_student_is_the_larger_one_and_its_moe_activates_more_than_its_dense_form()
    {
        var s = Cfg.Load().Settings;
        Assert.InRange(ActivatedShare("demo"), 0.55, 0.60);
        Assert.True(ParameterAccounting.Activated(ModelConfigs.UpcycledStudent(s, Vocab, ImageId))
            > ParameterAccounting.Activated(ModelConfigs.Student(s, Vocab, ImageId)));
    }
}
