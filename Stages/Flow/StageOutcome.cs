namespace Distill.Stages.Flow;

/// <summary>The result of a finished stage: named figures for the ledger and report, and the checkpoint it wrote
/// (null when the stage writes none).</summary>
public sealed record StageOutcome(string? Checkpoint, IReadOnlyDictionary<string, double> Figures)
{
    public static StageOutcome Empty { get; } = new(null, new Dictionary<string, double>());
}
