using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Supervision;

/// <summary>Runs one <see cref="ComputeStage"/>'s delegate on the compute dispatcher and reports
/// <see cref="StageSucceeded"/> or <see cref="StageFailed"/> (with the exception's full text) to its parent.</summary>
public sealed class ComputeStageRunner : ReceiveActor
{
    private readonly ComputeStage _stage;
    private readonly IStageProgress _progress;
    private readonly CancellationToken _cancellation;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    public static Props Props(ComputeStage stage, IStageProgress progress, CancellationToken cancellation) =>
        Akka.Actor.Props.Create(() => new ComputeStageRunner(stage, progress, cancellation))
            .WithDispatcher(DistillActorsConfig.ComputeDispatcher);

    public ComputeStageRunner(ComputeStage stage, IStageProgress progress, CancellationToken cancellation)
    {
        _stage = stage;
        _progress = progress;
        _cancellation = cancellation;
        ReceiveOnce<RunStage>(_ => Run());
    }

    protected override void PreStart() => Self.Tell(RunStage.Instance);

    private void ReceiveOnce<T>(Action<T> handler) => Receive<T>(m =>
    {
        Become(() => ReceiveAny(_ => { }));
        handler(m);
    });

    private void Run()
    {
        object result;
        try
        {
            _cancellation.ThrowIfCancellationRequested();
            var outcome = _stage.Run(_progress, _cancellation) ?? StageOutcome.Empty;
            result = new StageSucceeded(_stage.Name, outcome, ShardCounts.None);
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            result = new StageFailed(_stage.Name, "cancelled", ShardCounts.None);
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Stage {0} failed", _stage.Name);
            result = new StageFailed(_stage.Name, ErrorDetail.OneLine(ex), ShardCounts.None, ErrorDetail.Of(ex));
        }
        Context.Parent.Tell(result);
    }
}
