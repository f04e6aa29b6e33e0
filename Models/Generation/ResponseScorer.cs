using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>Per row: the summed log-probability of the response tokens, Sum [B] float32 (in the caller's dispose
/// scope; carries gradients when computed with grad enabled), and the number of response tokens.</summary>
public sealed record ResponseLogProbs(Tensor Sum, int[] Counts)
{
    /// <summary>Sum / count per row [B] (0 for an empty response): the length-normalised log-likelihood.</summary>
    public Tensor Mean()
    {
        using var scope = torch.NewDisposeScope();
        var counts = torch.tensor(Counts.Select(c => (float)Math.Max(c, 1)).ToArray(), device: Sum.device);
        return (Sum / counts).MoveToOuterDisposeScope();
    }
}

/// <summary>log p(response | image, prompt) for a batch in one forward: each row is prompt + response, left-padded,
/// so every response ends at the last position and all responses lie in the last R = max response length
/// positions; only those positions go through the LM head.</summary>
public static class ResponseScorer
{
    /// <summary>imageFeatures [B,N,Dt]; prompts (with the N image tokens) and responses (text ids, may be empty).</summary>
    public static ResponseLogProbs Score(VisionLanguageModel model, Tensor imageFeatures,
        IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> responses, int padId)
    {
        if (prompts.Count != responses.Count)
            throw new ArgumentException($"{prompts.Count} prompts for {responses.Count} responses.");
        if (imageFeatures.shape[0] != prompts.Count)
            throw new ArgumentException($"{imageFeatures.shape[0]} images for {prompts.Count} prompts.");
        for (var i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty.");
        var counts = responses.Select(r => r.Length).ToArray();
        var r = counts.Length == 0 ? 0 : counts.Max();
        using var scope = torch.NewDisposeScope();
        if (r == 0)
            return new ResponseLogProbs(torch.zeros(prompts.Count, device: model.Device).MoveToOuterDisposeScope(), counts);
        var rows = prompts.Select((p, i) => (IReadOnlyList<int>)p.Concat(responses[i]).ToArray()).ToList();
        var (ids, mask) = model.LeftPad(rows, padId);                                       // [B,L]
        long b = ids.shape[0], l = ids.shape[1];
        var hidden = model.HiddenStates(imageFeatures, ids, mask);                          // [B,L,D]
        var predicting = hidden.narrow(1, l - 1 - r, r);                                    // [B,R,D]: predict positions L-R..L-1
        var logits = model.LanguageModel.Head(predicting).to_type(ScalarType.Float32);      // [B,R,V]
        var targets = ids.narrow(1, l - r, r);                                              // [B,R]
        var tokenLogProbs = logits.log_softmax(-1).gather(2, targets.unsqueeze(-1)).squeeze(-1); // [B,R]
        var inResponse = new bool[b * r];                                                   // last counts[i] of row i
        for (var i = 0; i < b; i++)
            for (var j = r - counts[i]; j < r; j++)
                inResponse[i * r + j] = true;
        var select = torch.tensor(inResponse, [b, r], device: model.Device);               // [B,R]
        var sum = tokenLogProbs.masked_fill(select.logical_not(), Scalars.Zero).sum(1);             // [B]
        return new ResponseLogProbs(sum.MoveToOuterDisposeScope(), counts);
    }
}
