namespace Distill.Models.Config;

/// <summary>LLaMA-style decoder hyper-parameters (HF LlamaConfig names in config.json). <see cref="Moe"/> and
/// <see cref="Mod"/> are null for a dense decoder.</summary>
public sealed record DecoderConfig(
    int VocabSize,
    int HiddenSize,
    int IntermediateSize,
    int Layers,
    int Heads,
    int KvHeads,
    int MaxPositions = 512,
    double RopeTheta = 10000.0,
    double RmsNormEps = 1e-6,
    bool TieWordEmbeddings = false,
    MoeConfig? Moe = null,
    ModConfig? Mod = null)
{
    public int HeadDim => HiddenSize / Heads;
}
