namespace Distill.Stages.Arrow;

/// <summary>Parameters of a <see cref="TopKCodec"/> (all stored in the metadata of a part, see
/// <see cref="CompactTopKPart"/>).</summary>
/// <param name="VocabSize">ids are 0..VocabSize-1 and take ceil(log2(VocabSize)) bits each (17 up to 131,072, 18 for Qwen2's 151,646).</param>
/// <param name="TopK">entries per token.</param>
/// <param name="ExactCount">the first (largest) log-probs kept as float16, 1..TopK.</param>
/// <param name="DeltaBits">bits of each quantised step count of the others, 2..8.</param>
/// <param name="BaseStep">finest quantisation step of the others, in nats; a token uses BaseStep * 2^e with the
/// smallest e whose step counts fit in DeltaBits.</param>
public sealed record TopKCodecOptions(int VocabSize, int TopK, int ExactCount = TopKCodecOptions.DefaultExactCount,
    int DeltaBits = TopKCodecOptions.DefaultDeltaBits, double BaseStep = TopKCodecOptions.DefaultBaseStep)
{
    public const int DefaultExactCount = 4;
    public const int DefaultDeltaBits = 3;
    public const double DefaultBaseStep = 1.0 / 64;
}
