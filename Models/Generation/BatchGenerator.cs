using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>Batched decoding with a KV cache: the left-padded prompts are prefilled once, then every step feeds one
/// token per still-running row. A row stops at eos (not emitted) or after MaxNewTokens; finished rows leave the
/// batch and the cache.</summary>
public static class BatchGenerator
{
    /// <summary>imageFeatures [B,N,Dt] (see <see cref="VisionLanguageModel.EncodeImages"/>); one prompt per row,
    /// each holding the N image tokens and ending where the answer starts.</summary>
    public static GenerationResult Generate(VisionLanguageModel model, Tensor imageFeatures,
        IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        options.Validate();
        Check(model, imageFeatures.shape[0], prompts, options.PadId);
        var outputs = prompts.Select(_ => new List<int>()).ToArray();
        var logProbs = options.ReturnLogProbs ? prompts.Select(_ => new List<float>()).ToArray() : null;
        if (options.MaxNewTokens > 0 && prompts.Count > 0)
            Decode(model, imageFeatures, prompts, options, outputs, logProbs);
        return new GenerationResult(
            outputs.Select(o => o.ToArray()).ToArray(),
            logProbs?.Select(l => l.ToArray()).ToArray());
    }

    private static void Decode(VisionLanguageModel model, Tensor imageFeatures, IReadOnlyList<int[]> prompts,
        GenerationOptions options, List<int>[] outputs, List<float>[]? logProbs)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var sampler = new TokenSampler(options);
        var longest = prompts.Max(p => p.Length);
        using var cache = model.NewKvCache(capacity: longest + options.MaxNewTokens);
        var (ids, mask) = model.LeftPad(prompts.Select(p => (IReadOnlyList<int>)p).ToList(), options.PadId); // [B,L]
        var logits = model.Prefill(imageFeatures, ids, mask, cache, lastOnly: true).squeeze(1); // [B,V]
        var active = Enumerable.Range(0, prompts.Count).ToList();                     // cache row a = prompt active[a]
        for (var step = 0; ; step++)
        {
            var (tokens, chosenLogProbs) = sampler.Choose(logits);                    // [A]
            var keep = new List<long>();
            for (var a = 0; a < active.Count; a++)
            {
                if (tokens[a] == options.EosId) continue;
                outputs[active[a]].Add((int)tokens[a]);
                logProbs?[active[a]].Add(chosenLogProbs![a]);
                keep.Add(a);
            }
            if (keep.Count == 0 || step + 1 >= options.MaxNewTokens) break;
            using var stepScope = torch.NewDisposeScope();
            if (keep.Count < active.Count)
                cache.KeepRows(torch.tensor(keep.ToArray(), device: model.Device));
            active = keep.Select(a => active[(int)a]).ToList();
            var next = torch.tensor(keep.Select(a => tokens[a]).ToArray(), [keep.Count, 1], device: model.Device); // [A,1]
            var stepLogits = model.DecodeStep(next, cache).squeeze(1).MoveToOuterDisposeScope(); // [A,V]
            logits.Dispose();
            logits = stepLogits;
        }
    }

    private static void Check(VisionLanguageModel model, long images, IReadOnlyList<int[]> prompts, int padId)
    {
        if (images != prompts.Count)
            throw new ArgumentException($"{images} images for {prompts.Count} prompts.");
        if (padId == model.Config.ImageTokenId)
            throw new ArgumentException($"pad id {padId} equals the image token id.");
        for (var i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty.");
    }
}
