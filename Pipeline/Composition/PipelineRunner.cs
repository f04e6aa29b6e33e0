using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Composition;

/// <summary>The seam between the CLI and the composition root: runs the configured stages in an existing run
/// directory and returns the process exit code (0 = ok). <see cref="PipelineHost.RunAsync"/> is the production
/// one; tests pass their own. Cancellation (Ctrl-C) comes through <c>ct</c>: stop at the next safe point and throw
/// <see cref="OperationCanceledException"/> (or return).</summary>
public delegate Task<int> PipelineRunner(DistillSettings settings, RunPaths paths, IStageProgress progress, CancellationToken ct);
