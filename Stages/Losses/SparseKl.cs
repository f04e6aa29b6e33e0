using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>Forward KL(p_T || p_S) over the teacher's top-K tokens plus one tail bucket (DESIGN 5.2):
/// <c>sum_{i in K} p_T,i (log p_T,i - log p_S,i) + p_T,tail (log p_T,tail - log(1 - sum_{i in K} p_S,i))</c>.
/// When the tail bucket holds a single token (K = V - 1) this is the exact full KL.</summary>
public static class SparseKl
{
    /// <summary>studentLogits [N,V]; teacherIds [N,K] int64; teacherLogprobs [N,K] (temperature 1, any float dtype);
    /// teacherTail [N] -> KL per position [N] float32, differentiable w.r.t. the student logits.
    /// <paramref name="temperature"/> divides the student logits only: the cached teacher log-probs are at
    /// temperature 1 and the full teacher distribution is not available to re-temper. The result is not multiplied
    /// by T^2; the caller applies that factor (DESIGN 5.2) if it wants it.</summary>
    public static Tensor Forward(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogprobs, Tensor teacherTail,
        double temperature = 1.0)
    {
        if (temperature <= 0) throw new ArgumentOutOfRangeException(nameof(temperature), "temperature must be positive.");
        if (studentLogits.dim() != 2 || teacherIds.dim() != 2 || teacherIds.shape[0] != studentLogits.shape[0]
            || !teacherLogprobs.shape.SequenceEqual(teacherIds.shape) || teacherTail.shape.Length != 1
            || teacherTail.shape[0] != studentLogits.shape[0])
            throw new ArgumentException(
                $"shapes: student [{string.Join(",", studentLogits.shape)}], ids [{string.Join(",", teacherIds.shape)}], " +
                $"logprobs [{string.Join(",", teacherLogprobs.shape)}], tail [{string.Join(",", teacherTail.shape)}]; expected [N,V], [N,K], [N,K], [N].");
        using var scope = torch.NewDisposeScope();
        var device = studentLogits.device;
        var ids = teacherIds.to(device).to_type(ScalarType.Int64);                                  // [N,K]
        var logT = teacherLogprobs.to(device).to_type(ScalarType.Float32).clamp_min(Scalars.Of(TeacherTargets.MinLogprob)); // [N,K]
        var logTailT = teacherTail.to(device).to_type(ScalarType.Float32).clamp_min(Scalars.Of(TeacherTargets.MinLogprob)); // [N]

        var student = studentLogits.to_type(ScalarType.Float32);
        if (temperature != 1.0) student = student.div(Scalars.Of(temperature));
        var logS = student.log_softmax(-1);                                                          // [N,V]
        var logSTop = logS.gather(1, ids);                                                           // [N,K]
        var logTailS = TeacherTargets.LogMassOutside(logS, ids);                                        // [N]

        var top = (logT.exp() * (logT - logSTop)).sum(1);                                            // [N]
        var tail = logTailT.exp() * (logTailT - logTailS);                                           // [N]
        return (top + tail).MoveToOuterDisposeScope();
    }
}
