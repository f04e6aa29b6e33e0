using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>Batched decoding with a KV cache: the left-padded prompts are prefilled once, then every step feeds one
/// token per still-running row. A row stops at eos (not emitted) or after MaxNewTokens; finished rows leave the
/// batch and the cache.</summary>
public static class BatchGenerator
{
    /// <summary>imageFeatures [B,F,Dt] (see <see cref="VisionLanguageModel.EncodeImages"/>); one prompt per row,
    /// each holding its image tokens and ending where the answer starts.</summary>
    public static GenerationResult Generate(VisionLanguageModel model, Tensor imageFeatures,
        IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        if (imageFeatures.shape[0] != prompts.Count)
            throw new ArgumentException($"{imageFeatures.shape[0]} images for {prompts.Count} prompts.");
        if (options.PadId == model.Config.ImageTokenId)
            throw new ArgumentException($"pad id {options.PadId} equals the image token id.");
        return Generate(new ImageConditionedDecoder(model, imageFeatures), prompts, options);
    }

    /// <summary>Batched decoding of any <see cref="IIncrementalDecoder"/>: one prompt per row, ending where the answer
    /// starts.</summary>
    public static GenerationResult Generate(IIncrementalDecoder model, IReadOnlyList<int[]> prompts, GenerationOptions options)
    {
        options.Validate();
        for (var i = 0; i < prompts.Count; i++)
            if (prompts[i].Length == 0) throw new ArgumentException($"prompt {i} is empty.");
        var outputs = prompts.Select(_ => new List<int>()).ToArray();
        var logProbs = options.ReturnLogProbs ? prompts.Select(_ => new List<float>()).ToArray() : null;
        var endedBy = new int?[prompts.Count];
        if (options.MaxNewTokens > 0 && prompts.Count > 0)
            Decode(model, prompts, options, outputs, logProbs, endedBy);
        return new GenerationResult(
            outputs.Select(o => o.ToArray()).ToArray(),
            logProbs?.Select(l => l.ToArray()).ToArray(),
            endedBy);
    }

    private static void Decode(IIncrementalDecoder model, IReadOnlyList<int[]> prompts,
        GenerationOptions options, List<int>[] outputs, List<float>[]? logProbs, int?[] endedBy)
    {
        using var noGrad = torch.no_grad();
        using var scope = torch.NewDisposeScope();
        using var sampler = new TokenSampler(options);
        var longest = prompts.Max(p => p.Length);
        using var cache = model.NewKvCache(capacity: longest + options.MaxNewTokens);
        var (ids, mask) = TokenPadding.Left(prompts.Select(p => (IReadOnlyList<int>)p).ToList(), options.PadId, model.Device); // [B,L]
        var logits = model.Prefill(ids, mask, cache).squeeze(1);                   // [B,V]
        var active = Enumerable.Range(0, prompts.Count).ToList();                     // cache row a = prompt active[a]
        for (var step = 0; ; step++)
        {
            var (tokens, chosenLogProbs) = sampler.Choose(logits);                    // [A]
            var keep = new List<long>();
            for (var a = 0; a < active.Count; a++)
            {
                if (options.IsEos(tokens[a]))
                {
                    endedBy[active[a]] = (int)tokens[a];
                    continue;
                }
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
}
