using Distill.Models;
using Distill.Stages.Losses;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>The mimic objective on one batch: sparse forward KL to the cached teacher targets plus response CE.</summary>
public static class MimicLoss
{
    /// <returns>(total, kd, ce) scalars.</returns>
    public static (Tensor Total, Tensor Kd, Tensor Ce) Compute(Tensor studentLogits, TrainingBatch batch, TeacherTargetTensors teacher, MimicOptions options)
    {
        var kd = SparseKl.Forward(studentLogits, teacher.Ids, teacher.Logprobs, teacher.Tail).mean();
        var ce = CausalLmLoss.CrossEntropy(studentLogits, batch);
        var total = kd.mul(Scalars.Of(options.KdWeight)).add(ce.mul(Scalars.Of(options.CeWeight)));
        return (total, kd, ce);
    }
}
