using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>The distillation term of the mimic loss (DESIGN 5.2): a divergence between teacher and student over the
/// sparse top-K + tail buckets at temperature T, multiplied by T^2 (so gradient magnitudes stay comparable across
/// temperatures). <see cref="JsdBeta"/> is used only by <see cref="Divergence.Jsd"/>.</summary>
public sealed record KdObjective(Divergence Divergence = Divergence.ForwardKl, double JsdBeta = 0.5, double Temperature = 1.0)
{
    /// <summary>Forward KL at T = 1: the held-out metric, whatever the training objective.</summary>
    public static KdObjective ForwardKl { get; } = new();

    /// <summary>Per-position loss [N] float32 = divergence * T^2; arguments as <see cref="SparseKl.Forward"/>.</summary>
    public Tensor PerPosition(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogprobs, Tensor teacherTail)
    {
        using var scope = torch.NewDisposeScope();
        var (teacher, student) = SparseBuckets.LogProbs(studentLogits, teacherIds, teacherLogprobs, teacherTail, Temperature);
        var divergence = Divergence switch
        {
            Divergence.ForwardKl => SparseKl.Of(teacher, student),
            Divergence.ReverseKl => SparseKl.Of(student, teacher),
            Divergence.Jsd => SparseJsd.Of(teacher, student, JsdBeta),
            _ => throw new ArgumentOutOfRangeException(nameof(Divergence), Divergence, null),
        };
        if (Temperature != 1.0) divergence = divergence.mul(Scalars.Of(Temperature * Temperature));
        return divergence.MoveToOuterDisposeScope();
    }

    public override string ToString() => Divergence switch
    {
        Divergence.Jsd => $"jsd(beta={JsdBeta}), T={Temperature}",
        _ => $"{Divergence.Name()}, T={Temperature}",
    };
}
