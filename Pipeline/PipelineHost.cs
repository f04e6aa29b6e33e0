using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;

namespace Distill.Pipeline;

/// <summary>The composition root: builds the stages of <see cref="DistillSettings.Stages"/> and the actor system,
/// runs them, writes the ledger and the report (see <see cref="Reporting.ReportWriter"/>).</summary>
public static class PipelineHost
{
    /// <summary>Runs the pipeline. When called: the configuration is valid; <paramref name="paths"/> exists with
    /// checkpoints/ and logs/ created and config.resolved.conf written; <see cref="DistillSettings.RunDir"/> and
    /// <see cref="DataSettings.Dir"/> are absolute. <paramref name="progress"/> is thread-safe and already forwards
    /// every update to <see cref="RunPaths.Metrics"/> (a <see cref="Progress.ConsoleProgress"/> exposes its
    /// <see cref="Stages.Runs.MetricsLog"/> as <c>Metrics</c>). Returns the exit code: 0 ok, 1 failure.</summary>
    public static Task<int> RunAsync(DistillSettings settings, RunPaths paths, IStageProgress progress, CancellationToken ct)
    {
        throw new NotImplementedException("composition lands with the stages");
    }
}
