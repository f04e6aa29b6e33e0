using Akka.Actor;
using Akka.Configuration;
using Distill.Actors;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Composition;

/// <summary>Where the pipeline's actors run: <see cref="SingleProcess"/> (every role in one ActorSystem, no
/// remoting) or the coordinator node of a cluster (<see cref="Cluster.CoordinatorHosting"/>).</summary>
public abstract class ActorHosting
{
    public static ActorHosting SingleProcess { get; } = new SingleProcessHosting();

    /// <summary>How the actors ran, for the report ("one process", "cluster: ...").</summary>
    public abstract string Describe();

    /// <summary>Starts the ActorSystem (terminated by the caller) and returns the flow settings the stages run with,
    /// <paramref name="flow"/> adapted to this hosting.</summary>
    public abstract Task<(ActorSystem System, FlowSettings Flow)> StartAsync(DistillSettings settings, RunPaths paths,
        FlowSettings flow, CancellationToken ct);

    /// <summary>Logging of the pipeline's ActorSystem: warnings and errors to the console.</summary>
    public static Config LoggingConfig { get; } = ConfigurationFactory.ParseString("""
        akka {
          loglevel = WARNING
          stdout-loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor.ask-timeout = infinite
        }
        """);

    private sealed class SingleProcessHosting : ActorHosting
    {
        public override string Describe() => "one process";

        public override Task<(ActorSystem System, FlowSettings Flow)> StartAsync(DistillSettings settings, RunPaths paths,
            FlowSettings flow, CancellationToken ct) =>
            Task.FromResult((ActorSystem.Create("distill", LoggingConfig.WithFallback(DistillActorsConfig.Config)), flow));
    }
}
