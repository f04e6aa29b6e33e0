using Distill.Stages.Data.Llava;

namespace Distill.Stages.Workspace;

/// <summary>What reading a dataset met: samples read, the bad ones (each once, with its file, id and reason),
/// the ones cut to the maximum length and the text-only ones left out (the stages' rows all carry an image).</summary>
public sealed record DataQuality(int Read, IReadOnlyList<BadSample> Bad, int Truncated, int TextOnly)
{
    public static DataQuality None { get; } = new(0, [], 0, 0);

    /// <summary>The figures the ledger and the report carry.</summary>
    public IReadOnlyDictionary<string, double> Figures => new Dictionary<string, double>
    {
        ["samples_read"] = Read,
        ["bad_samples"] = Bad.Count,
        ["truncated_samples"] = Truncated,
        ["text_only_samples_left_out"] = TextOnly,
    };
}
