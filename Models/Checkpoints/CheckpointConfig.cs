using Distill.Models.Config;

namespace Distill.Models.Checkpoints;

/// <summary>What a model directory's config.json describes: a LLaVA model (<see cref="Vlm"/>) or a text-only causal
/// LM (<see cref="Text"/>), its <c>model_type</c>, and the generation settings.</summary>
public sealed record CheckpointConfig(string ModelType, VlmConfig? Vlm, DecoderConfig? Text, GenerationConfig Generation)
{
    public bool IsLlava => Vlm is not null;

    /// <summary>The decoder's configuration (the LLaVA model's text part, or the causal LM).</summary>
    public DecoderConfig Decoder => Vlm?.Text ?? Text!;
}
