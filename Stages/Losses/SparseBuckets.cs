using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>The sparse teacher representation (DESIGN 4, 5.2) as a distribution over K+1 buckets: the teacher's
/// top-K tokens of a position and one tail bucket holding the rest of the vocabulary. Teacher and student are both
/// mapped onto the same buckets (the student's tail is <c>1 - sum_{i in K} p_S,i</c>), so every divergence over
/// them is a proper divergence between two distributions and is 0 when they agree.
/// <para>Temperature T: the cached teacher log-probs are at T = 1 and the full teacher distribution is gone, so
/// tempering is done on the buckets: <c>p_b^(T) = p_b^(1/T) / sum_c p_c^(1/T)</c>, i.e. a log_softmax of
/// <c>log p_b / T</c> over the K+1 buckets, for the teacher and, the same way, for the student. For a top-K bucket
/// this is exact up to the normaliser; the tail bucket is tempered as if it were one token, whereas the true
/// tempered tail is <c>sum_{j in tail} p_j^(1/T)</c>, which for T &gt; 1 is larger (up to
/// <c>(V-K)^(1-1/T) p_tail^(1/T)</c> when the tail is spread evenly) and for T &lt; 1 smaller. So for T != 1 the
/// tail is under-weighted (T &gt; 1) or over-weighted (T &lt; 1); the approximation is exact at T = 1 and when the
/// tail holds a single token (K = V - 1). The teacher buckets are renormalised at every T (they sum to 1 only up
/// to the quantisation of <c>teacher/v2</c>).</para></summary>
public static class SparseBuckets
{
    /// <summary>studentLogits [N,V]; teacherIds [N,K] (any integer dtype); teacherLogprobs [N,K] (temperature 1,
    /// any float dtype); teacherTail [N] -> (teacher, student) log-probabilities over the K+1 buckets at
    /// <paramref name="temperature"/>, each [N,K+1] float32 and normalised; the student's is differentiable.</summary>
    public static (Tensor Teacher, Tensor Student) LogProbs(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogprobs,
        Tensor teacherTail, double temperature = 1.0)
    {
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "temperature must be a positive number.");
        CheckShapes(studentLogits, teacherIds, teacherLogprobs, teacherTail);
        using var scope = torch.NewDisposeScope();
        var device = studentLogits.device;
        var ids = teacherIds.to(device).to_type(ScalarType.Int64);                                            // [N,K]
        var floor = Scalars.Of(TeacherTargets.MinLogprob);
        var teacherTop = teacherLogprobs.to(device).to_type(ScalarType.Float32).clamp_min(floor);             // [N,K]
        var teacherRest = teacherTail.to(device).to_type(ScalarType.Float32).clamp_min(floor).unsqueeze(1);   // [N,1]
        var teacher = torch.cat([teacherTop, teacherRest], 1);                                                // [N,K+1]

        var logS = studentLogits.to_type(ScalarType.Float32).log_softmax(-1);                                  // [N,V]
        var student = torch.cat([logS.gather(1, ids), TeacherTargets.LogMassOutside(logS, ids).unsqueeze(1)], 1); // [N,K+1]

        if (temperature != 1.0)
        {
            teacher = teacher.div(Scalars.Of(temperature));
            student = student.div(Scalars.Of(temperature));
        }
        return (teacher.log_softmax(-1).MoveToOuterDisposeScope(), student.log_softmax(-1).MoveToOuterDisposeScope());
    }

    private static void CheckShapes(Tensor student, Tensor ids, Tensor logprobs, Tensor tail)
    {
        if (student.dim() != 2 || ids.dim() != 2 || ids.shape[0] != student.shape[0]
            || !logprobs.shape.SequenceEqual(ids.shape) || tail.shape.Length != 1 || tail.shape[0] != student.shape[0])
            throw new ArgumentException(
                $"shapes: student [{string.Join(",", student.shape)}], ids [{string.Join(",", ids.shape)}], " +
                $"logprobs [{string.Join(",", logprobs.shape)}], tail [{string.Join(",", tail.shape)}]; expected [N,V], [N,K], [N,K], [N].");
    }
}
