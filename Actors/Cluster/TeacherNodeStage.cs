using Akka.Actor;
using Akka.Event;
using Distill.Actors.Flow;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Cluster;

/// <summary>One distillation stage on a teacher node: finds the stage in the node's own configuration, starts the
/// node's loaders and teacher workers for it (they talk to the remote coordinator and trainer directly), hands them
/// to the coordinator (<see cref="StageMembers"/>), and stops them when the coordinator stops (the stage ended).
/// When the stage cannot be opened here it tells the coordinator (<see cref="ComponentFailed"/>), which fails the
/// stage with that error.</summary>
public sealed class TeacherNodeStage : ReceiveActor
{
    private readonly OpenStage _open;
    private readonly string _runDir;
    private readonly TeacherNodeOptions _options;
    private readonly Func<StageRequest, DistillStage> _resolve;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Lazy<IShardSource>? _source;

    /// <summary>Runs on the compute dispatcher: finding the stage may load data.</summary>
    public static Props Props(OpenStage open, string runDir, TeacherNodeOptions options, Func<StageRequest, DistillStage> resolve) =>
        Akka.Actor.Props.Create(() => new TeacherNodeStage(open, runDir, options, resolve))
            .WithDispatcher(DistillActorsConfig.ComputeDispatcher);

    public TeacherNodeStage(OpenStage open, string runDir, TeacherNodeOptions options, Func<StageRequest, DistillStage> resolve)
    {
        _open = open;
        _runDir = runDir;
        _options = options;
        _resolve = resolve;
        Receive<Terminated>(t => t.ActorRef.Equals(_open.Coordinator), _ =>
        {
            _log.Info("Stage {0} closed: its coordinator stopped", _open.Stage);
            Context.Stop(Self);
        });
    }

    protected override void PreStart()
    {
        Context.Watch(_open.Coordinator);
        DistillStage stage;
        try
        {
            stage = _resolve(new StageRequest(_open.Stage, _runDir));
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Opening stage {0} failed", _open.Stage);
            var node = ((ExtendedActorSystem)Context.System).Provider.DefaultAddress;
            _open.Coordinator.Tell(new ComponentFailed($"teacher node {node}", $"opening stage '{_open.Stage}' failed: {ErrorDetail.OneLine(ex)}",
                ErrorDetail.Of(ex)));
            Context.Stop(Self);
            return;
        }

        _source = new Lazy<IShardSource>(stage.CreateSource, LazyThreadSafetyMode.ExecutionAndPublication);
        var loaders = Enumerable.Range(0, _options.Loaders)
            .Select(i => Context.ActorOf(ShardLoader.Props(_source, _open.Coordinator), $"loader-{i}"))
            .ToList();
        var workers = Enumerable.Range(0, _options.TeacherWorkers)
            .Select(i => Context.ActorOf(TeacherWorker.Props(stage.CreateTeacher, _open.Coordinator, _open.Trainer,
                _options.TeacherPrefetch, _options.MaxBatchBytes), $"teacher-{i}"))
            .ToList();
        _open.Coordinator.Tell(new StageMembers(workers, loaders));
        _log.Info("Stage {0} opened: {1} loader(s), {2} teacher worker(s) working for {3}", _open.Stage, loaders.Count,
            workers.Count, _open.Coordinator.Path);
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _log.Error(ex, "A stage actor of {0} crashed; the coordinator re-issues its leases", _open.Stage);
            return Directive.Stop;
        });

    protected override void PostStop()
    {
        // Children have stopped by now, so no loader still reads the source.
        if (_source is { IsValueCreated: true, Value: IDisposable disposable })
        {
            try { disposable.Dispose(); }
            catch (Exception ex) { _log.Warning("Disposing the shard source failed: {0}", ex.Message); }
        }
    }
}
