namespace Distill.Stages.Runs;

/// <summary>What happened to a stage at one moment of a run.</summary>
public enum RunLedgerStatus
{
    Started,
    Completed,
    Failed,
    Skipped,
}

/// <summary>One line of the run ledger. Counts, wall time, checkpoint, figures and error are filled where they
/// apply (a <c>started</c> line has none of them).</summary>
public sealed record RunLedgerEntry(
    string Stage,
    RunLedgerStatus Status,
    DateTime TimeUtc,
    double? WallSeconds = null,
    int? ShardsIssued = null,
    int? ShardsReissued = null,
    int? ShardsConsumed = null,
    string? Checkpoint = null,
    IReadOnlyDictionary<string, double>? Figures = null,
    string? Error = null);
