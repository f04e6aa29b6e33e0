namespace Distill.Stages.Distillation;

/// <summary>Teacher-generated responses (LLAVADI): greedy answers of at most <paramref name="MaxNewTokens"/> tokens,
/// ended by <paramref name="EosId"/>.</summary>
public sealed record ResponseGeneration(int MaxNewTokens, int EosId);
