using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>Generation and response scoring of a <see cref="VisionLanguageModel"/> (HF's <c>generate</c> and the
/// log-probabilities preference distillation needs), over its image features and KV cache. Kept here, not on the model,
/// so that the model does not depend on generation.</summary>
public static class VisionLanguageGeneration
{
    /// <summary>Greedy decoding of a batch of prompts (each ending in the assistant marker), left-padded
    /// internally, with a KV cache. Returns, per prompt, the generated ids without the prompt and without the final eos.</summary>
    public static IReadOnlyList<int[]> GenerateGreedy(this VisionLanguageModel model, Tensor pixels, IReadOnlyList<int[]> prompts, int maxNewTokens, int eosId, int padId) =>
        model.Generate(pixels, prompts, GenerationOptions.Greedy(maxNewTokens, eosId, padId)).Tokens;

    /// <summary>Greedy or seeded sampling (see <see cref="GenerationOptions"/>) over pixels [B,3,H,W] and one prompt per row.</summary>
    public static GenerationResult Generate(this VisionLanguageModel model, Tensor pixels, IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        if (pixels.shape[0] != prompts.Count)
            throw new ArgumentException($"{pixels.shape[0]} images for {prompts.Count} prompts.");
        using var noGrad = torch.no_grad();
        using var features = model.EncodeImages(pixels);                                   // [B,N,Dt]
        return BatchGenerator.Generate(model, features, prompts, options);
    }

    /// <summary><see cref="Generate"/> with precomputed image features [B,N,Dt].</summary>
    public static GenerationResult GenerateWithImageFeatures(this VisionLanguageModel model, Tensor imageFeatures, IReadOnlyList<int[]> prompts, GenerationOptions options) =>
        BatchGenerator.Generate(model, imageFeatures, prompts, options);

    /// <summary>Per row, the summed log-probability of responses[i] given image i and prompts[i] (and the token
    /// counts), in one padded forward. Gradients flow when grad is enabled.</summary>
    public static ResponseLogProbs ScoreResponses(this VisionLanguageModel model, Tensor pixels, IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId)
    {
        using var scope = torch.NewDisposeScope();
        var features = model.EncodeImages(pixels);                                         // [B,N,Dt]
        var scores = ResponseScorer.Score(model, features, prompts, responses, padId);
        scores.Sum.MoveToOuterDisposeScope();
        return scores;
    }

    /// <summary><see cref="ScoreResponses"/> with precomputed image features [B,N,Dt].</summary>
    public static ResponseLogProbs ScoreResponsesWithImageFeatures(this VisionLanguageModel model, Tensor imageFeatures, IReadOnlyList<int[]> prompts,
        IReadOnlyList<int[]> responses, int padId) =>
        ResponseScorer.Score(model, imageFeatures, prompts, responses, padId);

    /// <summary>Left-pads sequences with padId: ids [B,L] int64 and attention mask [B,L] int64 (0 on pads), on the
    /// model's device.</summary>
    public static (Tensor Ids, Tensor Mask) LeftPad(this VisionLanguageModel model, IReadOnlyList<IReadOnlyList<int>> sequences, int padId) =>
        TokenPadding.Left(sequences, padId, model.Device);
}
