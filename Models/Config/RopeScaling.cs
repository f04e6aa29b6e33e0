namespace Distill.Models.Config;

/// <summary>HF <c>rope_scaling</c>: <c>linear</c> (positions divided by <see cref="Factor"/>), <c>dynamic</c> (NTK-aware:
/// the base grows once a sequence is longer than <c>max_position_embeddings</c>) or <c>llama3</c> (frequencies
/// rescaled by wavelength between <see cref="LowFreqFactor"/> and <see cref="HighFreqFactor"/> around
/// <see cref="OriginalMaxPositions"/>).</summary>
public sealed record RopeScaling(string Type, double Factor, int? OriginalMaxPositions = null,
    double LowFreqFactor = 1.0, double HighFreqFactor = 4.0)
{
    public static readonly IReadOnlyList<string> Supported = ["linear", "dynamic", "llama3"];
}
