namespace Distill.Models.Generation;

/// <summary>How to decode: <paramref name="Temperature"/> 0 is greedy (argmax); above 0 the next token is sampled
/// from softmax(logits / Temperature), restricted to the smallest set of most likely tokens whose probability
/// reaches <paramref name="TopP"/> (nucleus; 1 = no restriction). <paramref name="Seed"/> seeds the sampler
/// (same seed, model and prompts give the same tokens). Rows stop at <paramref name="EosId"/> (or any of
/// <see cref="MoreEosIds"/>: generation_config.json may list several) or after <paramref name="MaxNewTokens"/>. <paramref name="ReturnLogProbs"/> also returns, per generated token, its
/// log-probability under the model (log_softmax of the raw logits, temperature 1, before top-p).</summary>
public sealed record GenerationOptions(
    int MaxNewTokens,
    int EosId,
    int PadId,
    double Temperature = 0.0,
    double TopP = 1.0,
    long Seed = 0,
    bool ReturnLogProbs = false)
{
    /// <summary>Greedy decoding.</summary>
    public static GenerationOptions Greedy(int maxNewTokens, int eosId, int padId) => new(maxNewTokens, eosId, padId);

    public bool IsGreedy => Temperature == 0.0;

    /// <summary>Further tokens that end a row, besides <see cref="EosId"/>.</summary>
    public IReadOnlyList<int> MoreEosIds { get; init; } = [];

    public bool IsEos(long token) => token == EosId || MoreEosIds.Contains((int)token);

    /// <summary>Throws an ArgumentException naming the bad field.</summary>
    public void Validate()
    {
        if (MaxNewTokens < 0) throw new ArgumentException($"MaxNewTokens must not be negative, got {MaxNewTokens}.");
        if (double.IsNaN(Temperature) || Temperature < 0)
            throw new ArgumentException($"Temperature must be >= 0 (0 = greedy), got {Temperature}.");
        if (double.IsNaN(TopP) || TopP <= 0 || TopP > 1) throw new ArgumentException($"TopP must be in (0, 1], got {TopP}.");
    }
}

/// <summary>Generated ids per row (without the prompt and without the final eos) and, when asked for, the
/// log-probability of each of those tokens (same lengths); null otherwise.</summary>
/// <param name="Tokens">Per prompt, the new tokens without the one that ended it.</param>
/// <param name="EndedBy">Per prompt, the eos token that ended it, or null when it ran out of new tokens.</param>
public sealed record GenerationResult(IReadOnlyList<int[]> Tokens, IReadOnlyList<float[]>? LogProbs, IReadOnlyList<int?> EndedBy);
