namespace Distill.Stages.Distillation;

/// <summary>Teacher-generated responses (LLAVADI): greedy answers of at most <paramref name="MaxNewTokens"/> tokens,
/// ended by <paramref name="EosId"/>. The teacher answers the prompt-only rows (the unlabelled pool of
/// <c>distill.data.labelled-images</c>), and with <paramref name="EveryRow"/>
/// (<c>distill.mimic.teacher-generated-responses</c>) every row, its dataset response replaced.</summary>
public sealed record ResponseGeneration(int MaxNewTokens, int EosId, bool EveryRow = false);
