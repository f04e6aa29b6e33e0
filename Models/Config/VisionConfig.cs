namespace Distill.Models.Config;

/// <summary>ViT vision tower hyper-parameters (HF CLIPVisionConfig names in config.json).</summary>
/// <param name="SelectLayer">Which encoder layer's patch tokens feed the projector; negative counts from the end
/// (LLaVA takes -2, the penultimate). -1 = last layer.</param>
public sealed record VisionConfig(
    int ImageSize,
    int PatchSize,
    int HiddenSize,
    int IntermediateSize,
    int Layers,
    int Heads,
    int SelectLayer = -1,
    double LayerNormEps = 1e-5)
{
    public int PatchesPerSide => ImageSize / PatchSize;
    public int NumPatches => PatchesPerSide * PatchesPerSide;
}
