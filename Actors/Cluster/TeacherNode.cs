using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Cluster;

/// <summary>The agent of a teacher node, at <c>/user/distill-teacher-node</c>. When a coordinator member is up it
/// registers with that node's <see cref="TeacherNodeRegistry"/> (again every <see cref="TeacherNodeOptions.RegisterRetry"/>
/// until answered), then opens a <see cref="TeacherNodeStage"/> for every <see cref="OpenStage"/>. Its work ends when the
/// coordinator leaves the cluster (the run is over) or no coordinator answered within
/// <see cref="TeacherNodeOptions.RegisterTimeout"/>; it then stops its stages and answers <see cref="AwaitNodeEnd"/>
/// with <see cref="TeacherNodeEnded"/>.</summary>
public sealed class TeacherNode : ReceiveActor, IWithTimers
{
    public const string Name = "distill-teacher-node";
    private const string RetryTimer = "register-retry";
    private const string TimeoutTimer = "register-timeout";

    private readonly TeacherNodeOptions _options;
    private readonly Func<StageRequest, DistillStage> _resolve;
    private readonly List<IActorRef> _awaiting = new();
    private readonly List<OpenStage> _early = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private Address? _coordinator;
    private IActorRef? _registry;
    private string? _runDir;
    private int _stageSeq;
    private TeacherNodeEnded? _ended;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="resolve">finds the distillation stage a coordinator opens, in this node's own configuration
    /// (called on a compute thread by the stage host; may block, may throw).</param>
    public static Props Props(TeacherNodeOptions options, Func<StageRequest, DistillStage> resolve) =>
        Akka.Actor.Props.Create(() => new TeacherNode(options, resolve));

    public TeacherNode(TeacherNodeOptions options, Func<StageRequest, DistillStage> resolve)
    {
        _options = options.Validate();
        _resolve = resolve;

        Receive<ClusterEvent.MemberUp>(up =>
        {
            if (_registry is not null || _ended is not null || !up.Member.HasRole(ClusterNodeConfig.CoordinatorRole)) return;
            _coordinator = up.Member.Address;
            _log.Info("Coordinator member up at {0}; registering", _coordinator);
            Register();
            Timers.StartPeriodicTimer(RetryTimer, RetryRegistration.Instance, _options.RegisterRetry);
        });
        Receive<RetryRegistration>(_ => Register());
        Receive<TeacherNodeRegistered>(registered =>
        {
            if (_registry is not null || _ended is not null) return;
            _registry = Sender;
            Context.Watch(_registry);
            _runDir = _options.RunDir ?? registered.RunDir;
            Timers.CancelAll();
            _log.Info("Registered with the coordinator at {0}; run directory {1}", _registry.Path.Address, _runDir);
            foreach (var open in _early) Open(open);
            _early.Clear();
        });
        Receive<OpenStage>(open =>
        {
            if (_ended is not null) return;
            if (_runDir is null) _early.Add(open); // overtook the registration's answer
            else Open(open);
        });
        Receive<Terminated>(t =>
        {
            if (t.ActorRef.Equals(_registry)) End(true, $"the coordinator at {t.ActorRef.Path.Address} left the cluster");
        });
        Receive<RegistrationTimedOut>(_ =>
        {
            if (_registry is not null) return;
            End(false, $"no coordinator answered within {_options.RegisterTimeout.TotalSeconds:0} s" + (_coordinator is null
                ? " (no coordinator member joined this cluster: check the seed address and that the coordinator runs)"
                : $" (coordinator member at {_coordinator})"));
        });
        Receive<AwaitNodeEnd>(_ =>
        {
            if (_ended is not null) Sender.Tell(_ended);
            else _awaiting.Add(Sender);
        });
    }

    protected override void PreStart()
    {
        Akka.Cluster.Cluster.Get(Context.System)
            .Subscribe(Self, ClusterEvent.SubscriptionInitialStateMode.InitialStateAsEvents, typeof(ClusterEvent.MemberUp));
        Timers.StartSingleTimer(TimeoutTimer, RegistrationTimedOut.Instance, _options.RegisterTimeout);
    }

    protected override void PostStop() => Akka.Cluster.Cluster.Get(Context.System).Unsubscribe(Self);

    private void Register() =>
        Context.ActorSelection(new RootActorPath(_coordinator!) / "user" / TeacherNodeRegistry.Name)
            .Tell(new RegisterTeacherNode(Self));

    private void Open(OpenStage open)
    {
        var name = $"stage-{++_stageSeq}-{Uri.EscapeDataString(open.Stage)}";
        Context.ActorOf(TeacherNodeStage.Props(open, _runDir!, _options, _resolve), name);
    }

    private void End(bool normal, string reason)
    {
        if (_ended is not null) return;
        _ended = new TeacherNodeEnded(normal, reason);
        Timers.CancelAll();
        if (normal) _log.Info("Teacher node done: {0}", reason);
        else _log.Error("Teacher node gives up: {0}", reason);
        foreach (var child in Context.GetChildren()) Context.Stop(child);
        foreach (var asker in _awaiting) asker.Tell(_ended);
        _awaiting.Clear();
    }
}
