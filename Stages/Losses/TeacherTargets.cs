using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>Sparse teacher targets for <c>teacher/v2</c>: per position the top-K token ids, their log-probs at
/// temperature 1 (descending) and the log of the probability mass outside the top K (the K+1-th bucket).</summary>
/// <param name="Ids">[N,K] int64.</param>
/// <param name="Logprobs">[N,K] float32, sorted descending.</param>
/// <param name="TailLogprob">[N] float32, log(1 - sum of the top-K probabilities), never below <see cref="MinLogprob"/>.</param>
public sealed record TeacherTargets(Tensor Ids, Tensor Logprobs, Tensor TailLogprob) : IDisposable
{
    /// <summary>Floor for log-probabilities (e^-80 ~ 1.8e-35, still a normal float32): the tail of a teacher that is
    /// (numerically) certain is stored as this instead of -inf, so no later product 0 * -inf becomes NaN.</summary>
    public const float MinLogprob = -80f;

    /// <summary>logits [N,V] -> top-K targets. The tail is computed as logsumexp of the log-probs outside the top K
    /// (the top-K entries masked out), not as log(1 - sum p): that has no cancellation when the top K hold almost
    /// all the mass, and is exactly the floor when K = V.</summary>
    public static TeacherTargets FromLogits(Tensor logits, int k)
    {
        if (logits.dim() != 2) throw new ArgumentException($"logits must be [N,V], got [{string.Join(",", logits.shape)}].");
        var vocab = logits.shape[1];
        if (k <= 0 || k > vocab) throw new ArgumentOutOfRangeException(nameof(k), $"K = {k} must be in 1..{vocab}.");
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        var logprobs = logits.to_type(ScalarType.Float32).log_softmax(-1);        // [N,V]
        var (top, ids) = logprobs.topk(k, dim: -1, largest: true, sorted: true);  // [N,K]
        var tail = LogMassOutside(logprobs, ids);                                   // [N]
        return new TeacherTargets(
            ids.to_type(ScalarType.Int64).MoveToOuterDisposeScope(),
            top.clamp_min(Scalars.Of(MinLogprob)).MoveToOuterDisposeScope(),
            tail.MoveToOuterDisposeScope());
    }

    /// <summary>log of the mass of <paramref name="logprobs"/> [N,V] outside <paramref name="ids"/> [N,K]:
    /// logsumexp over the other entries, floored at <see cref="MinLogprob"/> -> [N]. Differentiable: the excluded
    /// entries are set to a large finite negative (not -inf), so the backward of an all-excluded row stays finite.</summary>
    public static Tensor LogMassOutside(Tensor logprobs, Tensor ids)
    {
        using var scope = torch.NewDisposeScope();
        var outside = logprobs.scatter(1, ids, torch.full_like(ids, Scalars.Of(-1e30), dtype: logprobs.dtype)); // [N,V]
        return outside.logsumexp(-1).clamp_min(Scalars.Of(MinLogprob)).MoveToOuterDisposeScope();            // [N]
    }

    public void Dispose()
    {
        Ids.Dispose();
        Logprobs.Dispose();
        TailLogprob.Dispose();
    }
}
