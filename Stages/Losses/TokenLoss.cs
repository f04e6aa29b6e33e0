using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>Token-level helpers: masked cross-entropy and masked means.</summary>
public static class TokenLoss
{
    /// <summary>Cross-entropy per position: logits [N,V], targets [N] int64 -> -log p(target) [N] float32.</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor targets)
    {
        using var scope = torch.NewDisposeScope();
        var logp = logits.to_type(ScalarType.Float32).log_softmax(-1);                            // [N,V]
        var picked = logp.gather(1, targets.to(logits.device).to_type(ScalarType.Int64).unsqueeze(1)); // [N,1]
        return (-picked.squeeze(1)).MoveToOuterDisposeScope();                                     // [N]
    }

    /// <summary>Mean cross-entropy over the positions where mask is true (or non-zero): scalar. 0 when no position
    /// is selected (so an all-prompt batch contributes nothing instead of NaN).</summary>
    public static Tensor MaskedCrossEntropy(Tensor logits, Tensor targets, Tensor mask)
    {
        using var scope = torch.NewDisposeScope();
        return MaskedMean(CrossEntropy(logits, targets), mask).MoveToOuterDisposeScope();
    }

    /// <summary>sum(values * mask) / max(count(mask), 1) over all elements: scalar float32.</summary>
    public static Tensor MaskedMean(Tensor values, Tensor mask)
    {
        if (!values.shape.SequenceEqual(mask.shape))
            throw new ArgumentException($"values [{string.Join(",", values.shape)}] and mask [{string.Join(",", mask.shape)}] differ in shape.");
        using var scope = torch.NewDisposeScope();
        var weights = mask.to(values.device).ne(Scalars.Zero).to_type(ScalarType.Float32);
        var total = (values.to_type(ScalarType.Float32) * weights).sum();
        return (total / weights.sum().clamp_min(Scalars.Of(1.0))).MoveToOuterDisposeScope();
    }
}
