using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Generation;
using Distill.Models.Language;
using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Reference;

/// <summary>A model directory's logits (and greedy tokens) for given inputs, as transformers'
/// <c>model(**inputs).logits</c> and <c>generate(max_new_tokens=N, do_sample=False)</c> give them, so a checkpoint can be
/// checked against transformers with the same files: inputs <c>input_ids</c> int64 [B,T] (required),
/// <c>attention_mask</c> [B,T] (optional, all ones), <c>pixel_values</c> float32 [B,3,H,W] (LLaVA, optional: without
/// it the image token is an ordinary token, as in transformers); outputs <c>logits</c> float32 [B,T',V] (T' = the
/// sequence with its image tokens expanded), <c>input_ids</c> as given and, with generation, <c>generated_ids</c> int64
/// [B,T+n]: each prompt as given followed by its new tokens, including the eos that ended it, rows that ended early
/// filled with the pad token (generation_config's pad, else its first eos). Other input tensors are ignored.</summary>
public static class ReferenceRun
{
    public static Dictionary<string, Tensor> Run(string modelDirectory, IReadOnlyDictionary<string, Tensor> inputs, int generate = 0)
    {
        if (!inputs.TryGetValue("input_ids", out var ids))
            throw new InvalidDataException("the inputs have no input_ids (int64 [B,T])");
        if (ids.dim() != 2 || ids.dtype != ScalarType.Int64)
            throw new InvalidDataException($"input_ids must be int64 [B,T], got {ids.dtype} [{string.Join(",", ids.shape)}]");
        inputs.TryGetValue("attention_mask", out var mask);
        if (mask is not null && !mask.shape.SequenceEqual(ids.shape))
            throw new InvalidDataException($"attention_mask has shape [{string.Join(",", mask.shape)}], input_ids [{string.Join(",", ids.shape)}]");
        inputs.TryGetValue("pixel_values", out var pixels);
        if (generate < 0) throw new ArgumentOutOfRangeException(nameof(generate), generate, "the number of new tokens must not be negative");
        var config = Checkpoint.ReadConfig(modelDirectory);
        if (pixels is not null && config.Vlm is null)
            throw new InvalidDataException($"pixel_values are given, but {modelDirectory} holds a text model ({config.ModelType})");

        using var noGrad = torch.no_grad();
        var outputs = new Dictionary<string, Tensor>();
        if (config.Vlm is not null && pixels is not null)
        {
            using var model = Checkpoint.Load(modelDirectory);
            model.eval();
            outputs["logits"] = model.Forward(pixels, ids, mask).to_type(ScalarType.Float32).DetachFromDisposeScope();
            if (generate > 0)
            {
                using var features = model.EncodeImages(pixels);
                outputs["generated_ids"] = Generate(new ImageConditionedDecoder(model, features), ids, mask, generate, config.Generation, model.ExpandImageTokens);
            }
        }
        else
        {
            using var model = Checkpoint.LoadCausalLm(modelDirectory);
            model.eval();
            var vocab = model.Config.VocabSize;
            if (Scalars.ToInt64(ids.max()) >= vocab)
                throw new InvalidDataException($"input_ids hold an id >= the vocabulary size {vocab}");
            outputs["logits"] = model.ForwardIds(ids, mask).to_type(ScalarType.Float32).DetachFromDisposeScope();
            if (generate > 0)
                outputs["generated_ids"] = Generate(new CausalLmDecoder(model), ids, mask, generate, config.Generation, null);
        }
        outputs["input_ids"] = ids.alias().DetachFromDisposeScope();
        return outputs;
    }

    private static Tensor Generate(IIncrementalDecoder decoder, Tensor ids, Tensor? mask, int newTokens, GenerationConfig generation,
        Func<Tensor, Tensor?, (Tensor Ids, Tensor? Mask)>? expand)
    {
        long b = ids.shape[0], t = ids.shape[1];
        var rows = ids.data<long>().ToArray();
        var real = mask?.to_type(ScalarType.Int64).data<long>().ToArray();
        var prompts = Enumerable.Range(0, (int)b).Select(r =>
            Enumerable.Range(0, (int)t).Where(j => real is null || real[r * t + j] != 0).Select(j => (int)rows[r * t + j]).ToArray()).ToList();
        if (expand is not null)
        {
            // the generator takes the sequences as the LM sees them: image tokens expanded
            using var scope = torch.NewDisposeScope();
            prompts = prompts.Select(p =>
            {
                var (e, _) = expand(torch.tensor(p.Select(x => (long)x).ToArray(), [1, p.Length]), null);
                return e.cpu().data<long>().ToArray().Select(x => (int)x).ToArray();
            }).ToList();
        }
        var eos = generation.EosTokenIds;
        var pad = generation.PadTokenId ?? (eos.Count > 0 ? eos[0] : 0);
        var options = new GenerationOptions(newTokens, eos.Count > 0 ? eos[0] : -1, pad) { MoreEosIds = eos.Skip(1).ToList() };
        var result = BatchGenerator.Generate(decoder, prompts, options);
        var produced = result.Tokens.Select((tokens, r) => result.EndedBy[r] is { } end ? [.. tokens, end] : tokens).ToList();
        var width = produced.Max(p => p.Length);
        var output = new long[b * (t + width)];
        for (var r = 0; r < b; r++)
        {
            for (var j = 0; j < t; j++) output[r * (t + width) + j] = rows[r * t + j];
            for (var j = 0; j < width; j++) output[r * (t + width) + t + j] = j < produced[r].Length ? produced[r][j] : pad;
        }
        return torch.tensor(output, [b, t + width]).DetachFromDisposeScope();
    }
}
