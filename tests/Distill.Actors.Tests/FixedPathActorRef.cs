using Akka.Actor;

namespace Distill.Actors.Tests;

/// <summary>An actor reference that is only a fixed path with a fixed uid (messages to it go nowhere): it serializes
/// to the same bytes in every run, unlike a real actor's reference, whose uid is random.</summary>
public sealed class FixedPathActorRef(ActorSystem system, string name, long uid) : MinimalActorRef
{
    public override ActorPath Path { get; } = (new RootActorPath(((ExtendedActorSystem)system).Provider.DefaultAddress) / "user" / name).WithUid(uid);

    public override IActorRefProvider Provider { get; } = ((ExtendedActorSystem)system).Provider;
}
