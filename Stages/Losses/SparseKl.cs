using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>KL divergences over the teacher's top-K tokens plus one tail bucket (DESIGN 5.2, see
/// <see cref="SparseBuckets"/>). Forward: <c>sum_{i in K} p_T,i (log p_T,i - log p_S,i) + p_T,tail (log p_T,tail -
/// log(1 - sum_{i in K} p_S,i))</c>; reverse swaps the roles, <c>sum_b p_S,b (log p_S,b - log p_T,b)</c>. When the
/// tail bucket holds a single token (K = V - 1) both are the exact full KLs. The result is not multiplied by T^2;
/// <see cref="KdObjective"/> applies that factor.</summary>
public static class SparseKl
{
    /// <summary>Forward KL(p_T || p_S) per position [N] float32, differentiable w.r.t. the student logits [N,V].
    /// teacherIds [N,K]; teacherLogprobs [N,K] (temperature 1, any float dtype); teacherTail [N].</summary>
    public static Tensor Forward(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogprobs, Tensor teacherTail,
        double temperature = 1.0)
    {
        using var scope = torch.NewDisposeScope();
        var (teacher, student) = SparseBuckets.LogProbs(studentLogits, teacherIds, teacherLogprobs, teacherTail, temperature);
        return Of(teacher, student).MoveToOuterDisposeScope();
    }

    /// <summary>Reverse KL(p_S || p_T) per position [N] float32 (mode-seeking), same arguments as <see cref="Forward"/>.</summary>
    public static Tensor Reverse(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogprobs, Tensor teacherTail,
        double temperature = 1.0)
    {
        using var scope = torch.NewDisposeScope();
        var (teacher, student) = SparseBuckets.LogProbs(studentLogits, teacherIds, teacherLogprobs, teacherTail, temperature);
        return Of(student, teacher).MoveToOuterDisposeScope();
    }

    /// <summary>KL(p || q) = sum_b p_b (log p_b - log q_b) of two normalised log-distributions [N,B] -> [N].</summary>
    public static Tensor Of(Tensor logP, Tensor logQ)
    {
        using var scope = torch.NewDisposeScope();
        return (logP.exp() * (logP - logQ)).sum(1).MoveToOuterDisposeScope();
    }
}
