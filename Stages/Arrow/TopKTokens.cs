namespace Distill.Stages.Arrow;

/// <summary>The teacher's sparse output for N tokens (positions): per token the top-K ids with their log-probs at
/// temperature 1, sorted descending, and the log of the mass outside the top K.</summary>
/// <param name="Ids">[N*K] flattened, each in 0..vocab-1, distinct within a token.</param>
/// <param name="Logprobs">[N*K] flattened, non-increasing within a token, finite, at most 0.</param>
/// <param name="Tails">[N] log(1 - sum of the token's top-K probabilities), finite, at most 0.</param>
public sealed record TopKTokens(int TopK, int[] Ids, float[] Logprobs, float[] Tails)
{
    public int Count => Tails.Length;
}

/// <summary><see cref="TopKTokens"/> encoded by a <see cref="TopKCodec"/>: two planes of fixed-size records, token by
/// token.</summary>
/// <param name="Ids">[N * <see cref="TopKCodec.IdBytes"/>] the packed ids of each token.</param>
/// <param name="Logprobs">[N * <see cref="TopKCodec.LogprobBytes"/>] the log-prob record of each token.</param>
public sealed record CompactTopK(int Tokens, byte[] Ids, byte[] Logprobs);
