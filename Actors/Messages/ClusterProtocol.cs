using Akka.Actor;

namespace Distill.Actors.Messages;

// Teacher nodes <-> the coordinator node: a teacher node registers with the registry on the coordinator node; a
// distillation stage's coordinator opens the stage on every registered node, whose stage host starts loaders and
// teacher workers there and hands them to the coordinator.

/// <summary>Teacher node -> registry on the coordinator node: <paramref name="Node"/> takes stages.</summary>
public sealed record RegisterTeacherNode(IActorRef Node) : IWireMessage;

/// <summary>Registry -> teacher node: registered; the run's directory (as the coordinator sees it) is
/// <paramref name="RunDir"/>.</summary>
public sealed record TeacherNodeRegistered(string RunDir) : IWireMessage;

/// <summary>Stage coordinator -> registry: tell <paramref name="Subscriber"/> about every teacher node, those
/// registered now and those that register later (until the subscriber stops).</summary>
public sealed record SubscribeTeacherNodes(IActorRef Subscriber) : IWireMessage;

/// <summary>Registry -> subscriber: a registered teacher node.</summary>
public sealed record TeacherNodeAvailable(IActorRef Node) : IWireMessage;

/// <summary>Stage coordinator -> teacher node: start loaders and teacher workers for stage <paramref name="Stage"/>
/// that work for <paramref name="Coordinator"/> and send teacher batches to <paramref name="Trainer"/>; they stop
/// when the coordinator does.</summary>
public sealed record OpenStage(string Stage, IActorRef Coordinator, IActorRef Trainer) : IWireMessage;

/// <summary>Teacher node's stage host -> stage coordinator: these teacher workers and loaders work for the stage.</summary>
public sealed record StageMembers(IReadOnlyList<IActorRef> Workers, IReadOnlyList<IActorRef> Loaders) : IWireMessage
{
    public IReadOnlyList<IActorRef> Workers { get; init; } = MessageValues.Portable(Workers);
    public IReadOnlyList<IActorRef> Loaders { get; init; } = MessageValues.Portable(Loaders);
}

/// <summary>Stage coordinator's timer: the stage has had no teacher worker for <see cref="FlowSettings.TeacherWait"/>.</summary>
public sealed record TeacherWaitExpired
{
    public static TeacherWaitExpired Instance { get; } = new();
}

/// <summary>Teacher node's timer: register with the coordinator again (no answer yet).</summary>
public sealed record RetryRegistration
{
    public static RetryRegistration Instance { get; } = new();
}

/// <summary>Teacher node's timer: it did not register with a coordinator in time.</summary>
public sealed record RegistrationTimedOut
{
    public static RegistrationTimedOut Instance { get; } = new();
}

/// <summary>Host -> teacher node: answer <see cref="TeacherNodeEnded"/> when the node's work is over.</summary>
public sealed record AwaitNodeEnd
{
    public static AwaitNodeEnd Instance { get; } = new();
}

/// <summary>Teacher node -> host: the node's work is over; <paramref name="Normal"/> when the coordinator left the
/// cluster (the run ended), false when it never registered.</summary>
public sealed record TeacherNodeEnded(bool Normal, string Reason);
