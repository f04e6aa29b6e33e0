using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distill.Actors.Flow;
using Distill.Actors.Messages;
using Distill.Stages.Flow;
using Distill.Stages.Runs;

namespace Distill.Actors.Supervision;

/// <summary>Runs the configured stages strictly in order, one child per stage (a <see cref="ComputeStageRunner"/>
/// or a <see cref="StageCoordinator"/>), stopped when its stage ends. Every start, completion, skip and failure is
/// appended to the run ledger. On resume, the leading stages the ledger records as completed are skipped and
/// their recorded outcome reported; from the first stage that runs again, every later stage runs too, because it
/// reads what that stage writes. Answers <see cref="RunPipeline"/> with <see cref="PipelineCompleted"/> or
/// <see cref="PipelineFailed"/>.</summary>
public sealed class PipelineSupervisor : ReceiveActor
{
    /// <summary>Name of the stage reported when the pipeline fails before any stage (bad configuration, unreadable
    /// ledger, a second run while one is in progress).</summary>
    public const string PipelineStageName = "(pipeline)";

    private readonly IReadOnlyList<StageDefinition> _stages;
    private readonly FlowSettings _settings;
    private readonly RunLedger _ledger;
    private readonly IStageProgress _progress;
    private readonly CancellationToken _cancellation;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    // State of the run in progress.
    private IActorRef _asker = ActorRefs.Nobody;
    private CancellationTokenSource? _runCancellation;
    private IReadOnlyDictionary<string, RunLedgerEntry> _completedBefore = new Dictionary<string, RunLedgerEntry>();
    private readonly List<StageResult> _results = new();
    private bool _resuming;
    private int _index;
    private IActorRef? _child;
    private Stopwatch _stageClock = new();
    private string? _childError;
    private ErrorDetail? _childDetail;

    public static Props Props(IReadOnlyList<StageDefinition> stages, FlowSettings settings, string ledgerPath,
        IStageProgress progress, CancellationToken cancellation = default) =>
        Akka.Actor.Props.Create(() => new PipelineSupervisor(stages, settings, ledgerPath, progress, cancellation));

    public PipelineSupervisor(IReadOnlyList<StageDefinition> stages, FlowSettings settings, string ledgerPath,
        IStageProgress progress, CancellationToken cancellation)
    {
        _stages = stages;
        _settings = settings;
        _ledger = new RunLedger(ledgerPath);
        _progress = progress;
        _cancellation = cancellation;
        Idle();
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _childError = ErrorDetail.OneLine(ex);
            _childDetail = ErrorDetail.Of(ex);
            return Directive.Stop;
        });

    protected override void PostStop()
    {
        _runCancellation?.Cancel();
        _runCancellation?.Dispose();
    }

    private void Idle()
    {
        Receive<RunPipeline>(_ => Start());
        Receive<CancelPipeline>(_ => { });
        Receive<StageSucceeded>(_ => { }); // from a stage child stopped earlier
        Receive<StageFailed>(_ => { });
        Receive<Terminated>(_ => { });
    }

    private void Running()
    {
        Receive<RunPipeline>(_ => Sender.Tell(new PipelineFailed(PipelineStageName,
            "a pipeline run is already in progress", [])));
        Receive<StageSucceeded>(_ => Sender.Equals(_child), done => Guard(() => StageSucceeded(done)));
        Receive<StageFailed>(_ => Sender.Equals(_child), failed => Guard(() => StageEnded(failed.Error, failed.Shards, failed.Detail)));
        Receive<Terminated>(t => t.ActorRef.Equals(_child), _ =>
            Guard(() => StageEnded(_childError is null ? "the stage actor stopped unexpectedly"
                : $"the stage actor crashed: {_childError}", ShardCounts.None, _childDetail)));
        Receive<CancelPipeline>(_ =>
        {
            _runCancellation?.Cancel();
            Guard(() => StageEnded("cancelled", ShardCounts.None));
        });
        ReceiveAny(_ => { }); // late messages from stopped stage children
    }

    private void Start()
    {
        _asker = Sender;
        _results.Clear();
        _index = 0;
        _resuming = true;
        _child = null;
        _runCancellation?.Dispose();
        _runCancellation = CancellationTokenSource.CreateLinkedTokenSource(_cancellation);
        Become(Running);

        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var stage in _stages)
        {
            if (string.IsNullOrWhiteSpace(stage.Name) || !names.Add(stage.Name))
            {
                Reply(new PipelineFailed(PipelineStageName, $"stage names must be non-empty and unique (got '{stage.Name}' twice or empty)", []));
                return;
            }
        }
        try
        {
            _settings.Validate();
            _completedBefore = _ledger.CompletedStages();
        }
        catch (Exception ex)
        {
            Reply(new PipelineFailed(PipelineStageName, ErrorDetail.OneLine(ex), [], ErrorDetail.Of(ex)));
            return;
        }
        Guard(NextStage);
    }

    /// <summary>Skips what the ledger records as done (leading stages only) and starts the next stage, or
    /// answers <see cref="PipelineCompleted"/> when none is left.</summary>
    private void NextStage()
    {
        while (_index < _stages.Count)
        {
            var stage = _stages[_index];
            if (_resuming && _completedBefore.TryGetValue(stage.Name, out var done))
            {
                _ledger.Append(new RunLedgerEntry(stage.Name, RunLedgerStatus.Skipped, DateTime.UtcNow,
                    done.WallSeconds, done.ShardsIssued, done.ShardsReissued, done.ShardsConsumed, done.Checkpoint,
                    done.Figures));
                _results.Add(new StageResult(stage.Name, StageStatus.Skipped,
                    new StageOutcome(done.Checkpoint, done.Figures ?? new Dictionary<string, double>()),
                    done.WallSeconds ?? 0,
                    new ShardCounts(done.ShardsIssued ?? 0, done.ShardsReissued ?? 0, done.ShardsConsumed ?? 0)));
                _log.Info("Stage {0} is already completed in the ledger; skipped", stage.Name);
                _index++;
                continue;
            }

            _resuming = false;
            _ledger.Append(new RunLedgerEntry(stage.Name, RunLedgerStatus.Started, DateTime.UtcNow));
            _log.Info("Stage {0} started", stage.Name);
            FaultDrills.AtStageStart(stage.Name);
            _childError = null;
            _childDetail = null;
            _stageClock = Stopwatch.StartNew();
            var props = stage switch
            {
                ComputeStage compute => ComputeStageRunner.Props(compute, _progress, _runCancellation!.Token),
                DistillStage distill => StageCoordinator.Props(distill, _settings, _progress, _runCancellation!.Token),
                _ => throw new NotSupportedException($"stage '{stage.Name}' has an unknown kind {stage.GetType().Name}"),
            };
            _child = Context.ActorOf(props, $"stage-{_index}-{Uri.EscapeDataString(stage.Name)}");
            Context.Watch(_child);
            return;
        }
        Reply(new PipelineCompleted(_results.ToList()));
    }

    private void StageSucceeded(StageSucceeded done)
    {
        var stage = _stages[_index];
        var wall = _stageClock.Elapsed.TotalSeconds;
        StopChild();
        var figures = done.Outcome.Figures;
        _ledger.Append(new RunLedgerEntry(stage.Name, RunLedgerStatus.Completed, DateTime.UtcNow, wall,
            done.Shards.Issued, done.Shards.Reissued, done.Shards.Consumed, done.Outcome.Checkpoint,
            figures));
        _results.Add(new StageResult(stage.Name, StageStatus.Completed, done.Outcome, wall, done.Shards));
        _log.Info("Stage {0} completed in {1:F1} s", stage.Name, wall);
        _index++;
        NextStage();
    }

    /// <summary>The current stage failed: record it (the one-line error), stop its actor, answer
    /// <see cref="PipelineFailed"/> with the error and its <paramref name="detail"/>.</summary>
    private void StageEnded(string error, ShardCounts shards, ErrorDetail? detail = null)
    {
        var stage = _stages[_index];
        var wall = _stageClock.Elapsed.TotalSeconds;
        StopChild();
        _log.Error("Stage {0} failed: {1}", stage.Name, error);
        try
        {
            _ledger.Append(new RunLedgerEntry(stage.Name, RunLedgerStatus.Failed, DateTime.UtcNow, wall,
                shards.Issued, shards.Reissued, shards.Consumed, Error: error));
        }
        catch (Exception ex)
        {
            error = $"{error} (and recording it in the ledger failed: {ex.Message})";
        }
        Reply(new PipelineFailed(stage.Name, error, _results.ToList(), detail));
    }

    /// <summary>Runs a step that may throw (ledger I/O, actor creation); a throw fails the pipeline at the
    /// current stage.</summary>
    private void Guard(Action step)
    {
        try
        {
            step();
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Pipeline step failed");
            var stage = _index < _stages.Count ? _stages[_index].Name : PipelineStageName;
            StopChild();
            Reply(new PipelineFailed(stage, ErrorDetail.OneLine(ex), _results.ToList(), ErrorDetail.Of(ex)));
        }
    }

    private void StopChild()
    {
        if (_child is null) return;
        Context.Unwatch(_child);
        Context.Stop(_child);
        _child = null;
    }

    private void Reply(object answer)
    {
        _asker.Tell(answer);
        _asker = ActorRefs.Nobody;
        _child = null;
        Become(Idle);
    }
}
