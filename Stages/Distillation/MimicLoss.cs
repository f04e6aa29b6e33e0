using Distill.Models.Torch;
using Distill.Models;
using Distill.Stages.Losses;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>The mimic objective on one batch (DESIGN 5.2): <c>kd_weight * KD + ce_weight * CE + aux_weight * aux</c>.</summary>
public static class MimicLoss
{
    /// <param name="studentLogits">[N,V] at the batch's predicting positions.</param>
    /// <param name="moeAux">The student's summed MoE aux loss of this forward, or null for a dense student.</param>
    /// <returns>(total, kd, ce) scalars; kd is the mean per-position divergence (times T^2), ce the response-token
    /// cross-entropy.</returns>
    public static (Tensor Total, Tensor Kd, Tensor Ce) Compute(Tensor studentLogits, TrainingBatch batch,
        TeacherTargetTensors teacher, MimicOptions options, Tensor? moeAux = null)
    {
        var kd = options.Kd.PerPosition(studentLogits, teacher.Ids, teacher.Logprobs, teacher.Tail).mean();
        var ce = CausalLmLoss.ResponseCrossEntropy(studentLogits, batch);
        var total = kd.mul(Scalars.Of(options.KdWeight)).add(ce.mul(Scalars.Of(options.CeWeight)), Scalars.One);
        if (moeAux is not null && options.AuxWeight > 0) total = total.add(moeAux.mul(Scalars.Of(options.AuxWeight)), Scalars.One);
        return (total, kd, ce);
    }
}
