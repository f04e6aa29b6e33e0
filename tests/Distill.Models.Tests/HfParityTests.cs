using Distill.Models.Checkpoints;
using Distill.Models.Language;
using Distill.Models.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>Checkpoints transformers saved load through the ordinary loader and compute transformers' logits (max abs
/// difference at most 1e-4) and greedy tokens, with and without the KV cache; LLaVA with the one image token
/// transformers expands and with the sequence already expanded.</summary>
public sealed class HfParityTests
{
    private const double Tolerance = 1e-4;
    private const int NewTokens = 5;

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    [InlineData("mixtral")]                 // experts on every layer, top-2 of 4, no token dropped
    [InlineData("llama-bias-rope-linear")]  // q/k/v/o biases, positions divided by the factor
    [InlineData("llama-rope-dynamic")]      // NTK base rescaled past max_position_embeddings, every step
    [InlineData("mistral-window")]          // a sliding window of 5 over 12 positions
    public void A_causal_lm_matches_transformers_logits_and_greedy_tokens(string fixture)
    {
        torch.set_num_threads(1);
        var expected = HfFixtures.Expected(fixture);
        using var model = Checkpoint.LoadCausalLm(HfFixtures.Directory(fixture));
        model.eval();
        using var noGrad = torch.no_grad();
        using var logits = model.ForwardIds(expected["input_ids"]);
        AssertClose(expected["logits"], logits, fixture);

        var prompt = Ids(expected["input_ids"]);
        var generated = Ids(expected["generated_ids"]);
        Assert.Equal(generated, prompt.Concat(GreedyFull(ids => model.ForwardIds(ids), prompt)).ToArray());
        Assert.Equal(generated, prompt.Concat(GreedyCached(model, prompt)).ToArray());
        foreach (var t in expected.Values) t.Dispose();
    }

    [Theory]
    [InlineData("llava-clip-llama", "input_ids")]
    [InlineData("llava-clip-llama", "input_ids_expanded")]
    [InlineData("llava-siglip-qwen2", "input_ids")]   // SigLIP tower, Qwen2 text model, strategy full
    [InlineData("dense", "input_ids")]                // a student Distill exported, as transformers computes it
    [InlineData("moe", "input_ids")]                  // an MoE student exported as Mixtral (dense layers as equal experts)
    [InlineData("moe-qwen2", "input_ids")]            // a Qwen2 MoE student exported as Qwen2-MoE (zero-width shared experts)
    public void Llava_matches_transformers_for_either_form_of_the_prompt(string fixture, string ids)
    {
        torch.set_num_threads(1);
        var expected = HfFixtures.Expected(fixture);
        using var model = Checkpoint.Load(HfFixtures.Directory(fixture));
        model.eval();
        using var noGrad = torch.no_grad();
        var pixels = expected["pixel_values"];
        using var logits = model.Forward(pixels, expected[ids]);
        Assert.Equal([1L, 27, 256], logits.shape);
        AssertClose(expected["logits"], logits, $"{fixture} ({ids})");

        var prompt = Ids(expected[ids]);
        var newTokens = Ids(expected["generated_ids"])[Ids(expected["input_ids"]).Length..];
        Assert.Equal(newTokens, GreedyFull(x => model.Forward(pixels, x), prompt));
        using var features = model.EncodeImages(pixels);
        Assert.Equal(newTokens, GreedyCached(model, features, prompt));
        foreach (var t in expected.Values) t.Dispose();
    }

    private static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.shape, actual.shape);
        var diff = Scalars.ToDouble((expected - actual.to_type(ScalarType.Float32)).abs().max());
        Assert.True(diff <= Tolerance, $"{what}: max |logits - transformers'| = {diff:E3} > {Tolerance:E0}");
    }

    /// <summary>Greedy decoding by full forwards over the growing sequence (no cache).</summary>
    private static long[] GreedyFull(Func<Tensor, Tensor> forward, long[] prompt)
    {
        var sequence = prompt.ToList();
        var added = new List<long>();
        for (var i = 0; i < NewTokens; i++)
        {
            using var scope = torch.NewDisposeScope();
            var logits = forward(torch.tensor(sequence.ToArray(), [1, sequence.Count]));
            var next = Scalars.ToInt64(logits.select(1, logits.shape[1] - 1).argmax(-1));
            sequence.Add(next);
            added.Add(next);
        }
        return added.ToArray();
    }

    private static long[] GreedyCached(LlamaForCausalLM model, long[] prompt)
    {
        using var scope = torch.NewDisposeScope();
        using var cache = model.Model.NewKvCache(prompt.Length + NewTokens);
        var embeds = model.Model.Embed(torch.tensor(prompt, [1, prompt.Length]));
        var logits = model.forward(embeds, null, cache, lastOnly: true);
        var added = new List<long>();
        for (var i = 0; i < NewTokens; i++)
        {
            var next = Scalars.ToInt64(logits.argmax(-1));
            added.Add(next);
            logits = model.forward(model.Model.Embed(torch.tensor(new[] { next }, [1, 1])), null, cache);
        }
        return added.ToArray();
    }

    private static long[] GreedyCached(VisionLanguageModel model, Tensor features, long[] prompt)
    {
        using var scope = torch.NewDisposeScope();
        using var cache = model.NewKvCache(prompt.Length + 32 + NewTokens);
        var logits = model.Prefill(features, torch.tensor(prompt, [1, prompt.Length]), null, cache, lastOnly: true);
        var added = new List<long>();
        for (var i = 0; i < NewTokens; i++)
        {
            var next = Scalars.ToInt64(logits.argmax(-1));
            added.Add(next);
            logits = model.DecodeStep(torch.tensor(new[] { next }, [1, 1]), cache);
        }
        return added.ToArray();
    }

    private static long[] Ids(Tensor ids) => ids.reshape(-1).data<long>().ToArray();
}
