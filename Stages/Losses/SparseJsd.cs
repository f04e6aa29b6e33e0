using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>Generalised Jensen-Shannon divergence over the top-K + tail buckets (see <see cref="SparseBuckets"/>):
/// with M = beta p_T + (1 - beta) p_S, <c>JSD(beta) = beta KL(p_T || M) + (1 - beta) KL(p_S || M)</c>. Symmetric at
/// beta = 0.5; bounded by ln 2 there; 0 when the two distributions agree.</summary>
public static class SparseJsd
{
    /// <summary>JSD(beta) per position [N] float32, differentiable w.r.t. the student logits [N,V];
    /// beta in (0, 1). Other arguments as <see cref="SparseKl.Forward"/>.</summary>
    public static Tensor Compute(Tensor studentLogits, Tensor teacherIds, Tensor teacherLogprobs, Tensor teacherTail,
        double beta, double temperature = 1.0)
    {
        using var scope = torch.NewDisposeScope();
        var (teacher, student) = SparseBuckets.LogProbs(studentLogits, teacherIds, teacherLogprobs, teacherTail, temperature);
        return Of(teacher, student, beta).MoveToOuterDisposeScope();
    }

    /// <summary>JSD(beta) of two normalised log-distributions logP, logQ [N,B] -> [N].</summary>
    public static Tensor Of(Tensor logP, Tensor logQ, double beta)
    {
        if (!(beta > 0 && beta < 1)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "JSD beta must lie in (0, 1).");
        using var scope = torch.NewDisposeScope();
        var logM = torch.stack([logP.add(Scalars.Of(Math.Log(beta)), Scalars.One), logQ.add(Scalars.Of(Math.Log(1 - beta)), Scalars.One)], 0)
            .logsumexp(0);                                                                               // [N,B]
        var toP = SparseKl.Of(logP, logM);
        var toQ = SparseKl.Of(logQ, logM);
        return toP.mul(Scalars.Of(beta)).add(toQ.mul(Scalars.Of(1 - beta)), Scalars.One).MoveToOuterDisposeScope();
    }
}
