namespace Distill.Models.Config;

/// <summary>ViT vision tower hyper-parameters: HF <c>CLIPVisionConfig</c> (<c>clip_vision_model</c>: a class token,
/// a pre-layernorm) or <c>SiglipVisionConfig</c> (<c>siglip_vision_model</c>: no class token, a patch-conv bias);
/// config.json names in the comments.</summary>
public sealed record VisionConfig(
    int ImageSize,                 // image_size
    int PatchSize,                 // patch_size
    int HiddenSize,                // hidden_size
    int IntermediateSize,          // intermediate_size
    int Layers,                    // num_hidden_layers
    int Heads,                     // num_attention_heads
    double LayerNormEps = 1e-5)    // layer_norm_eps
{
    public const string Clip = "clip_vision_model", Siglip = "siglip_vision_model";

    /// <summary><c>model_type</c>: <see cref="Clip"/> or <see cref="Siglip"/>.</summary>
    public string ModelType { get; init; } = Clip;

    /// <summary><c>hidden_act</c> of the MLP (CLIP's default quick_gelu, SigLIP's gelu_pytorch_tanh).</summary>
    public string HiddenAct { get; init; } = "quick_gelu";

    /// <summary><c>num_channels</c>.</summary>
    public int NumChannels { get; init; } = 3;

    /// <summary>Patches along a side: the stride-P convolution drops a remainder, as transformers' (image_size // patch_size).</summary>
    public int PatchesPerSide => ImageSize / PatchSize;
    public int NumPatches => PatchesPerSide * PatchesPerSide;

    /// <summary>CLIP prepends a class token; SigLIP has none.</summary>
    public bool HasClassToken => ModelType == Clip;

    /// <summary>Rows of the tower's hidden states: the patches, plus the class token for CLIP.</summary>
    public int NumPositions => NumPatches + (HasClassToken ? 1 : 0);

    public int HeadDim => HiddenSize / Heads;
}
