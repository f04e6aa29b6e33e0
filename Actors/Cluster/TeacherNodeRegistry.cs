using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;

namespace Distill.Actors.Cluster;

/// <summary>Lives on the coordinator node at <c>/user/distill-teacher-nodes</c>: teacher nodes register here
/// (<see cref="RegisterTeacherNode"/>), and stage coordinators subscribe (<see cref="SubscribeTeacherNodes"/>) to
/// hear of every registered node, now and later. Registered nodes and subscribers are watched and forgotten when
/// they stop or their node leaves the cluster.</summary>
public sealed class TeacherNodeRegistry : ReceiveActor
{
    public const string Name = "distill-teacher-nodes";

    private readonly string _runDir;
    private readonly HashSet<IActorRef> _nodes = new();
    private readonly HashSet<IActorRef> _subscribers = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <param name="runDir">the run directory, announced to every node that registers.</param>
    public static Props Props(string runDir) => Akka.Actor.Props.Create(() => new TeacherNodeRegistry(runDir));

    public TeacherNodeRegistry(string runDir)
    {
        _runDir = runDir;
        Receive<RegisterTeacherNode>(register =>
        {
            register.Node.Tell(new TeacherNodeRegistered(_runDir));
            if (!_nodes.Add(register.Node)) return; // a repeated registration
            Context.Watch(register.Node);
            _log.Info("Teacher node {0} registered ({1} now)", register.Node.Path.Address, _nodes.Count);
            foreach (var subscriber in _subscribers) subscriber.Tell(new TeacherNodeAvailable(register.Node));
        });
        Receive<SubscribeTeacherNodes>(subscribe =>
        {
            if (_subscribers.Add(subscribe.Subscriber)) Context.Watch(subscribe.Subscriber);
            foreach (var node in _nodes) subscribe.Subscriber.Tell(new TeacherNodeAvailable(node));
        });
        Receive<Terminated>(t =>
        {
            if (_nodes.Remove(t.ActorRef))
                _log.Warning("Teacher node {0} left{1} ({2} left)", t.ActorRef.Path.Address,
                    t.AddressTerminated ? " the cluster" : "", _nodes.Count);
            _subscribers.Remove(t.ActorRef);
        });
    }
}
