namespace Distill.Models.Config;

/// <summary>A LLaVA-style model: vision tower -> mlp2x_gelu projector -> decoder LM.
/// <paramref name="ImageTokenId"/> marks the positions of input_ids that receive projected patch features;
/// a sequence holds exactly <c>Vision.NumPatches</c> of them (the placeholder is expanded by the tokenizer side).</summary>
public sealed record VlmConfig(VisionConfig Vision, DecoderConfig Text, int ImageTokenId, string ProjectorType = "mlp2x_gelu");
