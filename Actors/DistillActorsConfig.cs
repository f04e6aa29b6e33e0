using Akka.Configuration;

namespace Distill.Actors;

/// <summary>The HOCON the Distill actors need. Merge it under the application's own config
/// (<c>appConfig.WithFallback(DistillActorsConfig.Config)</c>).</summary>
public static class DistillActorsConfig
{
    /// <summary>Id of the dispatcher every actor that calls into Stages compute runs on.</summary>
    public const string ComputeDispatcher = "distill-compute-dispatcher";

    /// <summary>Name of the <see cref="Serialization.WireSerializer"/> in <c>akka.actor.serializers</c>.</summary>
    public const string WireSerializerName = "distill-wire";

    /// <summary>Default HOCON: the compute dispatcher gives every compute actor (teacher worker, loader, student
    /// host, compute-stage runner) a thread of its own, so a long blocking step never starves the default
    /// dispatcher and the coordinator, trainer and supervisor stay responsive. Every message that may cross nodes
    /// (<see cref="Messages.IWireMessage"/>) goes through the <see cref="Serialization.WireSerializer"/>.</summary>
    public const string Default = """
        distill-compute-dispatcher {
          type = PinnedDispatcher
          # Each actor processes messages on its own thread; the thread ends when the actor stops.
          throughput = 1
        }
        akka.actor {
          serializers {
            distill-wire = "Distill.Actors.Serialization.WireSerializer, Distill.Actors"
          }
          serialization-bindings {
            "Distill.Actors.Messages.IWireMessage, Distill.Actors" = distill-wire
          }
        }
        """;

    public static Config Config { get; } = ConfigurationFactory.ParseString(Default);
}
