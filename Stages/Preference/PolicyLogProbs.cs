using Distill.Models.Generation;
using Distill.Models;
using Distill.Stages.Arrow;
using static TorchSharp.torch;

namespace Distill.Stages.Preference;

/// <summary>The policy's (student's) log-probs of a batch of pairs, summed over response tokens exactly as the
/// teacher summed the reference ones (<see cref="Models.Generation.ResponseScorer"/>): one image encoding per pair,
/// then chosen and rejected in one forward of 2B sequences. Differentiable when grad is enabled.</summary>
public static class PolicyLogProbs
{
    /// <returns>chosen [B], rejected [B] float32, and the reference log-probs as [B] float32 on the same device; all
    /// in the caller's dispose scope.</returns>
    public static (Tensor Chosen, Tensor Rejected, Tensor RefChosen, Tensor RefRejected) Of(
        VisionLanguageModel model, IReadOnlyList<PreferenceRow> rows, ImageFormat imageFormat, int padId)
    {
        var (chosen, rejected, refChosen, refRejected, _) = WithChosenLengths(model, rows, imageFormat, padId);
        return (chosen, rejected, refChosen, refRejected);
    }

    /// <summary><see cref="Of"/> plus the number of response tokens of each chosen response ([B]).</summary>
    public static (Tensor Chosen, Tensor Rejected, Tensor RefChosen, Tensor RefRejected, int[] ChosenTokens) WithChosenLengths(
        VisionLanguageModel model, IReadOnlyList<PreferenceRow> rows, ImageFormat imageFormat, int padId)
    {
        if (rows.Count == 0) throw new ArgumentException("no pairs to score", nameof(rows));
        int b = rows.Count;
        using var scope = NewDisposeScope();
        var features = model.EncodeImages(ImageTensors.FromRgb(rows.Select(r => r.Image).ToList(), imageFormat)); // [B,N,D]
        var both = features.repeat(2, 1, 1);                                                                     // [2B,N,D]
        var prompts = rows.Select(r => r.PromptIds).Concat(rows.Select(r => r.PromptIds)).ToList();
        var responses = rows.Select(r => r.ChosenIds).Concat(rows.Select(r => r.RejectedIds)).ToList();
        var scores = model.ScoreResponsesWithImageFeatures(both, prompts, responses, padId);
        var sums = scores.Sum;                                                                                   // [2B]
        var device = sums.device;
        var refChosen = tensor(rows.Select(r => (float)r.RefChosenLogp).ToArray(), device: device);             // [B]
        var refRejected = tensor(rows.Select(r => (float)r.RefRejectedLogp).ToArray(), device: device);         // [B]
        return (sums.narrow(0, 0, b).MoveToOuterDisposeScope(), sums.narrow(0, b, b).MoveToOuterDisposeScope(),
            refChosen.MoveToOuterDisposeScope(), refRejected.MoveToOuterDisposeScope(), scores.Counts.Take(b).ToArray());
    }
}
