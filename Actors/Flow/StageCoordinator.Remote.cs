using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;

namespace Distill.Actors.Flow;

// Cluster mode of the stage coordinator: the loaders and teacher workers run on teacher nodes. The coordinator
// subscribes to the teacher-node registry, opens the stage on every teacher node it announces, and takes the
// loaders and workers each node's stage host reports (StageMembers) into the same book as local ones. They are
// watched: when one stops, or its node leaves the cluster (downed after a crash), its leases go back to the queue.
// Their node owns them, so the coordinator never respawns them; with no teacher worker left it waits
// FlowSettings.TeacherWait for another node before it fails the stage.
public sealed partial class StageCoordinator
{
    private const string TeacherWaitTimer = "teacher-wait";

    /// <summary>Loaders and teacher workers on teacher nodes.</summary>
    private readonly HashSet<IActorRef> _remote = new();

    /// <summary>Work asked for by teacher workers whose <see cref="StageMembers"/> has not arrived yet (messages from
    /// different senders arrive in any order).</summary>
    private readonly Dictionary<IActorRef, int> _earlyDemand = new();

    /// <summary>Teacher nodes this stage was opened on.</summary>
    private readonly HashSet<IActorRef> _openedOn = new();

    private bool RemoteMode => _settings.TeacherNodes is not null;

    private void StartRemote()
    {
        _settings.TeacherNodes!.Tell(new SubscribeTeacherNodes(Self));
        Timers.StartSingleTimer(TeacherWaitTimer, TeacherWaitExpired.Instance, _settings.TeacherWait);
        _log.Info("Stage {0}: waiting for teacher nodes", _stage.Name);
    }

    /// <summary>The teacher nodes' messages; <paramref name="streaming"/>: members that join get work at once.</summary>
    private void RemoteReceives(bool streaming)
    {
        Receive<TeacherNodeAvailable>(available =>
        {
            if (!_openedOn.Add(available.Node)) return;
            _log.Info("Stage {0}: opening on teacher node {1}", _stage.Name, available.Node.Path.Address);
            available.Node.Tell(new OpenStage(_stage.Name, Self, _trainer));
        });
        Receive<StageMembers>(members =>
        {
            JoinMembers(members);
            if (streaming) TryLease();
        });
        Receive<TeacherWaitExpired>(_ =>
        {
            if (_workers.Count > 0 || _book.AllConsumed) return;
            FailStage($"no teacher worker for {_settings.TeacherWait.TotalSeconds:0.#} s ({_openedOn.Count} teacher node(s) " +
                      "were opened): start teacher nodes that join this cluster (distill node --role teacher --seed <address>)");
        });
    }

    private void EarlyDemand(IActorRef worker, int count)
    {
        if (RemoteMode && !_remote.Contains(worker))
            _earlyDemand[worker] = _earlyDemand.GetValueOrDefault(worker) + Math.Max(0, count);
    }

    private void JoinMembers(StageMembers members)
    {
        foreach (var worker in members.Workers)
        {
            if (!_remote.Add(worker)) continue;
            Context.Watch(worker);
            _workers.Add(worker);
            if (_earlyDemand.Remove(worker, out var early)) _demand[worker] = early;
        }
        foreach (var loader in members.Loaders)
        {
            if (!_remote.Add(loader)) continue;
            Context.Watch(loader);
            _loaders.Add(loader);
        }
        _log.Info("Stage {0}: {1} teacher worker(s) and {2} loader(s) joined from {3}; now {4} and {5}", _stage.Name,
            members.Workers.Count, members.Loaders.Count, Sender.Path.Address, _workers.Count, _loaders.Count);
        if (_workers.Count > 0) Timers.Cancel(TeacherWaitTimer);
    }

    /// <summary>Handles the end of a loader or teacher worker on a teacher node (its node owns it: it is not replaced;
    /// with no teacher worker left the coordinator waits for another node): true when leases changed, false when the
    /// stage failed, null for an actor that is not such a member.</summary>
    private bool? RemoteMemberTerminated(Terminated terminated)
    {
        var member = terminated.ActorRef;
        if (!_remote.Remove(member)) return null;
        var why = terminated.AddressTerminated ? $"its node {member.Path.Address} left the cluster" : "it stopped";
        var what = _workers.Contains(member) ? "teacher worker" : "loader";
        _log.Warning("Stage {0}: {1} {2} is gone ({3})", _stage.Name, what, Describe(member), why);
        if (!Revoke(member, $"{what} {Describe(member)}: {why}")) return false;
        if (_workers.Count == 0 && !_book.AllConsumed)
        {
            _log.Warning("Stage {0}: no teacher worker left; waiting {1} s for a teacher node", _stage.Name,
                _settings.TeacherWait.TotalSeconds);
            Timers.StartSingleTimer(TeacherWaitTimer, TeacherWaitExpired.Instance, _settings.TeacherWait);
        }
        return true;
    }

    /// <summary>A loader on the worker's node (round robin among them), so samples never cross nodes; null when that
    /// node has none. In one process every loader qualifies.</summary>
    private IActorRef? PickLoader(IActorRef worker, bool advance = true)
    {
        var address = worker.Path.Address;
        var count = _loaders.Count;
        for (var i = 0; i < count; i++)
        {
            var loader = _loaders[(_nextLoader + i) % count];
            if (!loader.Path.Address.Equals(address)) continue;
            if (advance) _nextLoader = (_nextLoader + i + 1) % count;
            return loader;
        }
        return null;
    }

    private static string Describe(IActorRef actor) =>
        actor.Path.Address.HasGlobalScope ? $"{actor.Path.Name} on {actor.Path.Address}" : actor.Path.Name;
}
