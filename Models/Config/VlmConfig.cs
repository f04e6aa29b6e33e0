namespace Distill.Models.Config;

/// <summary>A LLaVA model (HF <c>LlavaConfig</c>): vision tower -> projector -> decoder LM. The LM takes the hidden
/// states of tower layer <see cref="VisionFeatureLayer"/> (counted as transformers' <c>hidden_states</c>: 0 = the
/// embeddings, i = after layer i, negative from the end; LLaVA takes -2), without the first row when
/// <see cref="VisionFeatureSelectStrategy"/> is <c>default</c> (CLIP's class token; transformers drops the first row
/// of a SigLIP tower too) or all rows with <c>full</c>. <see cref="ImageTokenId"/> marks where those
/// <see cref="ImageFeatures"/> rows go in input_ids: one token per image (expanded by the model, as transformers
/// does) or already <see cref="ImageFeatures"/> of them.</summary>
public sealed record VlmConfig(VisionConfig Vision, DecoderConfig Text, int ImageTokenId)
{
    public static readonly IReadOnlyList<string> Strategies = ["default", "full"];

    /// <summary><c>projector_hidden_act</c>: the activation between the projector's two linears (gelu; linear = none).</summary>
    public string ProjectorHiddenAct { get; init; } = "gelu";

    /// <summary><c>vision_feature_layer</c>.</summary>
    public int VisionFeatureLayer { get; init; } = -2;

    /// <summary><c>vision_feature_select_strategy</c>: default or full.</summary>
    public string VisionFeatureSelectStrategy { get; init; } = "default";

    /// <summary>Image feature rows per image that the LM receives.</summary>
    public int ImageFeatures => Vision.NumPositions - (VisionFeatureSelectStrategy == "default" ? 1 : 0);

    /// <summary>The tower layers that run: those up to <see cref="VisionFeatureLayer"/>.</summary>
    public int VisionLayersUsed => VisionFeatureLayer < 0 ? Vision.Layers + 1 + VisionFeatureLayer : VisionFeatureLayer;
}
