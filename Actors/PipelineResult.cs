using Distill.Actors.Messages;

namespace Distill.Actors;

/// <summary>The end of a pipeline run: the results of the stages that completed or were skipped (in order) and,
/// when it failed, the failing stage, its error (one line, as in the ledger) and the exception behind it, when there
/// was one.</summary>
public sealed record PipelineResult(bool Succeeded, IReadOnlyList<StageResult> Stages, string? FailedStage, string? Error,
    ErrorDetail? Detail = null);
