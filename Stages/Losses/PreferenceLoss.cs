using Distill.Models.Torch;
using Distill.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Losses;

/// <summary>Preference losses over a batch of B pairs (DESIGN 5.3). With the log-ratios against the reference model
/// <c>r_w = log pi(y_w|x) - log pi_ref(y_w|x)</c> and <c>r_l</c> likewise (log-probs summed over response tokens):
/// <list type="bullet">
/// <item><c>sigmoid</c> (DPO): <c>mean_b -log sigmoid(beta (r_w - r_l))</c>; log 2 when policy = reference.</item>
/// <item><c>ipo</c>: <c>mean_b (r_w - r_l - 1/(2 beta))^2</c>.</item>
/// <item><c>kto-pair</c> (TRL's DPOTrainer <c>kto_pair</c>, which LLaVA-MoD runs): with the batch-mean reference points
/// <c>KL_w = max(0, mean_b r_w)</c> and <c>KL_l = max(0, mean_b r_l)</c>, the mean over the 2B terms
/// <c>1 - sigmoid(beta (r_w,b - KL_l))</c> and <c>1 - sigmoid(beta (KL_w - r_l,b))</c>. As in TRL the reference points
/// are not detached: gradients also flow through the batch means (while they are above 0).</item>
/// </list></summary>
public static class PreferenceLoss
{
    /// <summary>All inputs [B] (any float dtype, any device; the reference ones are constants). Returns the scalar
    /// loss (float32) on the policy's device, differentiable w.r.t. the policy log-probs.</summary>
    public static Tensor Compute(PreferenceLossKind kind, double beta, Tensor policyChosen, Tensor policyRejected,
        Tensor referenceChosen, Tensor referenceRejected)
    {
        if (!(beta > 0) || !double.IsFinite(beta)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "beta must be a positive number");
        using var scope = torch.NewDisposeScope();
        var (rw, rl) = LogRatios(policyChosen, policyRejected, referenceChosen, referenceRejected);   // [B] each
        var b = Scalars.Of(beta);
        Tensor loss = kind switch
        {
            PreferenceLossKind.Sigmoid => nn.functional.logsigmoid((rw - rl).mul(b)).neg().mean(),
            PreferenceLossKind.Ipo => (rw - rl).sub(Scalars.Of(1.0 / (2.0 * beta))).pow(Scalars.Of(2L)).mean(),
            PreferenceLossKind.KtoPair => KtoPair(rw, rl, b),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
        };
        return loss.MoveToOuterDisposeScope();
    }

    private static Tensor KtoPair(Tensor rw, Tensor rl, Scalar beta)
    {
        var klChosen = rw.mean().clamp_min(Scalars.Of(0.0));                                     // []
        var klRejected = rl.mean().clamp_min(Scalars.Of(0.0));                                   // []
        var chosenTerms = torch.sigmoid((rw - klRejected).mul(beta)).neg().add(Scalars.One, Scalars.One); // [B]
        var rejectedTerms = torch.sigmoid((klChosen - rl).mul(beta)).neg().add(Scalars.One, Scalars.One); // [B]
        return torch.cat([chosenTerms, rejectedTerms], 0).mean();
    }

    /// <summary>The chosen responses' negative log-likelihood per token, averaged over the pairs with a non-empty
    /// response: <c>mean_b -log pi(y_w|x) / |y_w|</c> (the NLL term of RPO). <paramref name="policyChosen"/> [B] holds the
    /// summed log-probs, <paramref name="chosenTokens"/> the response lengths. Scalar float32, differentiable; 0 when
    /// every chosen response is empty.</summary>
    public static Tensor ChosenNll(Tensor policyChosen, IReadOnlyList<int> chosenTokens)
    {
        if (policyChosen.shape.Length != 1 || policyChosen.shape[0] != chosenTokens.Count)
            throw new ArgumentException($"chosen log-probs [{string.Join(",", policyChosen.shape)}] do not match {chosenTokens.Count} lengths");
        using var scope = torch.NewDisposeScope();
        var lengths = torch.tensor(chosenTokens.Select(n => (float)Math.Max(n, 1)).ToArray(), device: policyChosen.device); // [B]
        var present = torch.tensor(chosenTokens.Select(n => n > 0 ? 1f : 0f).ToArray(), device: policyChosen.device);   // [B]
        int nonEmpty = chosenTokens.Count(n => n > 0);
        var perToken = policyChosen.to_type(ScalarType.Float32).div(lengths).neg().mul(present);                          // [B]
        return perToken.sum().div(Scalars.Of((double)Math.Max(nonEmpty, 1))).MoveToOuterDisposeScope();
    }

    /// <summary>r_w, r_l [B] float32 on the policy's device.</summary>
    public static (Tensor Chosen, Tensor Rejected) LogRatios(Tensor policyChosen, Tensor policyRejected,
        Tensor referenceChosen, Tensor referenceRejected)
    {
        long n = policyChosen.shape.Length == 1 ? policyChosen.shape[0] : -1;
        foreach (var t in new[] { policyRejected, referenceChosen, referenceRejected })
            if (n < 0 || t.shape.Length != 1 || t.shape[0] != n)
                throw new ArgumentException(
                    $"preference log-probs must all be [B]: got [{string.Join(",", policyChosen.shape)}], [{string.Join(",", policyRejected.shape)}], " +
                    $"[{string.Join(",", referenceChosen.shape)}], [{string.Join(",", referenceRejected.shape)}]");
        using var scope = torch.NewDisposeScope();
        var device = policyChosen.device;
        var rw = policyChosen.to_type(ScalarType.Float32) - referenceChosen.to(device).to_type(ScalarType.Float32);
        var rl = policyRejected.to_type(ScalarType.Float32) - referenceRejected.to(device).to_type(ScalarType.Float32);
        return (rw.MoveToOuterDisposeScope(), rl.MoveToOuterDisposeScope());
    }
}
