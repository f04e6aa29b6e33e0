using Akka.Configuration;

namespace Distill.Actors;

/// <summary>The HOCON the Distill actors need. Merge it under the application's own config
/// (<c>appConfig.WithFallback(DistillActorsConfig.Config)</c>).</summary>
public static class DistillActorsConfig
{
    /// <summary>Id of the dispatcher every actor that calls into Stages compute runs on.</summary>
    public const string ComputeDispatcher = "distill-compute-dispatcher";

    /// <summary>Default HOCON: the compute dispatcher gives every compute actor (teacher worker, loader, student
    /// host, compute-stage runner) a thread of its own, so a long blocking step never starves the default
    /// dispatcher and the coordinator, trainer and supervisor stay responsive.</summary>
    public const string Default = """
        distill-compute-dispatcher {
          type = PinnedDispatcher
          # Each actor processes messages on its own thread; the thread ends when the actor stops.
          throughput = 1
        }
        """;

    public static Config Config { get; } = ConfigurationFactory.ParseString(Default);
}
