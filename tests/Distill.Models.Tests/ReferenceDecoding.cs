using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>The bookkeeping of the full-recompute greedy references: append each active row's next token unless
/// it is eos, and return the rows that go on.</summary>
internal static class ReferenceDecoding
{
    public static List<int> Advance(IReadOnlyList<int> active, long[] next, int eos, List<int>[] tokens, List<int>[] sequences)
    {
        var still = new List<int>();
        for (var a = 0; a < active.Count; a++)
        {
            if (next[a] == eos) continue;
            tokens[active[a]].Add((int)next[a]);
            sequences[active[a]].Add((int)next[a]);
            still.Add(active[a]);
        }
        return still;
    }

    /// <summary>The full forward of prompts followed by generated tokens: logits [B,T,V] of ids [B,T] (the prompts'
    /// image tokens already F per row) with mask [B,T]; the positions of <paramref name="generated"/> [B,T] bool are
    /// embedded as text even when a generated id is the image token (a tiny model may generate it; the decode steps
    /// embed every new token as text, while a prompt's image tokens take the image features).
    /// <paramref name="routingHints"/>: the MoD token types [B,T], or null.</summary>
    public static Tensor Forward(VisionLanguageModel model, Tensor features, Tensor ids, Tensor mask, Tensor generated,
        Tensor? routingHints)
    {
        using var scope = torch.NewDisposeScope();
        var prompt = model.EmbedInputs(features, ids.masked_fill(generated, Scalars.Zero)); // generated: placeholder id 0
        var text = model.LanguageModel.Model.Embed(ids);                                   // [B,T,Dt]
        var embeds = torch.where(generated.unsqueeze(-1), text, prompt);
        return model.LanguageModel.forward(embeds, mask, routingHints, null).MoveToOuterDisposeScope();
    }
}
