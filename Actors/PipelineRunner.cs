using Akka.Actor;
using Distill.Actors.Messages;
using Distill.Actors.Supervision;
using Distill.Stages.Flow;

namespace Distill.Actors;

/// <summary>Host helper: runs a pipeline on an existing <see cref="ActorSystem"/> (which must include
/// <see cref="DistillActorsConfig.Config"/>) and waits for its end.</summary>
public static class PipelineRunner
{
    /// <summary>How long to wait for the supervisor and its stage actors (teacher replicas, student) to stop and
    /// release their resources after the run.</summary>
    public static TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Starts a <see cref="PipelineSupervisor"/>, runs every stage in order and returns the result.
    /// Cancelling <paramref name="cancellation"/> cancels the running stage (its token is cancelled, its actors
    /// stopped, the ledger records it as failed) and throws <see cref="PipelineCancelledException"/> naming it.</summary>
    public static async Task<PipelineResult> RunAsync(ActorSystem system, IReadOnlyList<StageDefinition> stages,
        FlowSettings settings, string ledgerPath, IStageProgress? progress = null,
        CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        cancellation.ThrowIfCancellationRequested();

        var supervisor = system.ActorOf(
            PipelineSupervisor.Props(stages, settings, ledgerPath, progress ?? NullStageProgress.Instance, cancellation),
            $"distill-pipeline-{Guid.NewGuid():N}");
        object reply;
        try
        {
            using (cancellation.Register(() => supervisor.Tell(CancelPipeline.Instance)))
                reply = await supervisor.Ask<object>(RunPipeline.Instance, Timeout.InfiniteTimeSpan).ConfigureAwait(false);
        }
        finally
        {
            try
            {
                await supervisor.GracefulStop(StopTimeout).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TaskCanceledException or AskTimeoutException)
            {
                // Still stopping (a compute step that ignores cancellation); it goes on stopping on its own.
            }
        }

        return reply switch
        {
            PipelineCompleted done => new PipelineResult(true, done.Stages, null, null),
            PipelineFailed failed when cancellation.IsCancellationRequested =>
                throw new PipelineCancelledException(failed.Stage, cancellation),
            PipelineFailed failed => new PipelineResult(false, failed.Stages, failed.Stage, failed.Error, failed.Detail),
            _ => throw new InvalidOperationException($"Unexpected answer from the pipeline supervisor: {reply}"),
        };
    }
}
