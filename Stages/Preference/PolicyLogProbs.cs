using Distill.Models.Generation;
using Distill.Models;
using Distill.Stages.Arrow;
using Distill.Stages.Students;
using static TorchSharp.torch;

namespace Distill.Stages.Preference;

/// <summary>The policy's (student's) log-probs of a batch of pairs, summed over response tokens exactly as the
/// teacher summed the reference ones (<see cref="Models.Generation.ResponseScorer"/>): one image encoding per pair,
/// then chosen and rejected in one forward of 2B sequences. Differentiable when grad is enabled. With a
/// <see cref="VisionFeatureCache"/> the frozen tower runs once per image over the whole stage (the projector every step).</summary>
public static class PolicyLogProbs
{
    /// <returns>chosen [B], rejected [B] float32, and the reference log-probs as [B] float32 on the same device; all
    /// in the caller's dispose scope.</returns>
    public static (Tensor Chosen, Tensor Rejected, Tensor RefChosen, Tensor RefRejected) Of(
        VisionLanguageModel model, IReadOnlyList<PreferenceRow> rows, ImageFormat imageFormat, int padId, VisionFeatureCache? features = null)
    {
        var (chosen, rejected, refChosen, refRejected, _) = WithChosenLengths(model, rows, imageFormat, padId, features);
        return (chosen, rejected, refChosen, refRejected);
    }

    /// <summary><see cref="Of"/> plus the number of response tokens of each chosen response ([B]).</summary>
    public static (Tensor Chosen, Tensor Rejected, Tensor RefChosen, Tensor RefRejected, int[] ChosenTokens) WithChosenLengths(
        VisionLanguageModel model, IReadOnlyList<PreferenceRow> rows, ImageFormat imageFormat, int padId, VisionFeatureCache? features = null)
    {
        if (rows.Count == 0) throw new ArgumentException("no pairs to score", nameof(rows));
        int b = rows.Count;
        using var scope = NewDisposeScope();
        var images = rows.Select(r => r.Image).ToList();
        var pixels = ImageTensors.FromRgb(images, imageFormat);                                                 // [B,3,S,S]
        var encoded = features is null
            ? model.EncodeImages(pixels)
            : model.Projector.forward(features.Patches(model, images, pixels));                                // [B,N,D]
        var both = encoded.repeat(2, 1, 1);                                                                      // [2B,N,D]
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
