using Akka.Actor;
using Akka.Configuration;
using Distill.Actors.Cluster;
using Distill.Actors.Messages;
using Distill.Pipeline.Cli;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Cluster;

/// <summary>A teacher node process (<c>distill node --role teacher</c>): an ActorSystem with the teacher and loader
/// roles that joins the coordinator at the seed address and serves every distillation stage the coordinator opens
/// on it (<see cref="TeacherNode"/>, stages from <see cref="NodeStageCatalog"/>). It ends with 0 when the coordinator
/// leaves the cluster (the run is over), 1 when it cannot join or was downed, 130 on Ctrl-C / SIGTERM; 2 when its
/// configuration or its TLS certificates cannot be used (<see cref="ClusterSecurity"/>: on a loopback host without
/// certificates, the run's throwaway CA made by the coordinator, in the run directory of <c>--run</c>).</summary>
public static class TeacherNodeHost
{
    /// <summary>Teacher nodes log at INFO (what joined, which shards were inferred) into their own log.</summary>
    private static readonly Config Logging = ConfigurationFactory.ParseString("""
        akka {
          loglevel = INFO
          stdout-loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor.ask-timeout = infinite
        }
        """);

    /// <summary>Teacher node <paramref name="index"/>'s name in its log, pid and certificate files.</summary>
    public static string NodeName(int index) => $"teacher-{index}";

    public static async Task<int> RunAsync(NodeOptions options, CliEnvironment env, CancellationToken ct)
    {
        LoadedConfiguration config;
        try
        {
            config = ConfigLoader.Load(options.Sources with { ClusterOverlay = true });
        }
        catch (ConfigurationErrorException e)
        {
            RunVerb.PrintConfigurationErrors(env.Error, e);
            return ExitCodes.ConfigurationError;
        }
        var s = config.Settings;
        var c = s.Cluster;
        var seed = options.Seed ?? c.Seed;
        string? problem = seed.Length == 0
            ? $"a teacher node needs the coordinator's address: --seed {ClusterAddress.Of("HOST", 4053, tls: !c.Insecure)} (or distill.cluster.seed)"
            : ClusterAddress.Check(seed, tls: !c.Insecure) is { } bad ? $"--seed: {bad}" : null;
        var port = c.TeacherBasePort == 0 ? 0 : c.TeacherBasePort + options.Index;
        if (problem is null && port > 65535)
            problem = $"teacher node {options.Index} would listen on port {port} (distill.cluster.teacher.base-port {c.TeacherBasePort} + index): above 65535";
        if (problem is not null)
        {
            await env.Error.WriteLineAsync($"distill: {problem}\nNothing was run.");
            return ExitCodes.ConfigurationError;
        }

        var runDir = options.Sources.RunDir is { } run ? Path.GetFullPath(run) : null;
        ClusterNodeTls? tls;
        try
        {
            tls = ClusterSecurity.Resolve(c, runDir, NodeName(options.Index), makeAuthority: false);
        }
        catch (ClusterTlsException e)
        {
            await env.Error.WriteLineAsync($"distill: teacher node {options.Index}: {e.Message}\nNothing was run.");
            return ExitCodes.ConfigurationError;
        }
        if (tls is null) await env.Error.WriteLineAsync(ClusterSecurity.InsecureWarning(c));

        var nodeOptions = new ClusterNodeOptions
        {
            Host = c.Host,
            Port = port,
            Roles = ClusterNodeConfig.TeacherRoles,
            MaxBatchBytes = s.Transport.MaxBatchBytes,
            HeartbeatPause = c.HeartbeatPause,
            DownAfter = c.DownAfter,
            Tls = tls,
        };
        var nodeConfig = Logging.WithFallback(ClusterNodeConfig.Build(nodeOptions));
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(ClusterNodeConfig.SystemName, ClusterNodeConfig.Setup(nodeConfig, nodeOptions));
        }
        catch (Exception e)
        {
            await env.Error.WriteLineAsync($"distill: teacher node {options.Index} cannot listen on {c.Host}:{port}: {(e.InnerException ?? e).Message}");
            return ExitCodes.RunFailed;
        }

        var self = Akka.Cluster.Cluster.Get(system).SelfAddress;
        await env.Out.WriteLineAsync($"distill: teacher node {options.Index} at {self} (pid {Environment.ProcessId}) joining {seed}; " +
                                     $"{c.TeacherLoaders} loader(s), {c.TeacherWorkers} teacher worker(s) per stage");
        Akka.Cluster.Cluster.Get(system).JoinSeedNodes([ClusterAddress.Parse(seed, tls: tls is not null)]);

        var catalog = new NodeStageCatalog(options.Sources with { ConfigFile = null });
        var agent = system.ActorOf(TeacherNode.Props(new TeacherNodeOptions
        {
            Loaders = c.TeacherLoaders,
            TeacherWorkers = c.TeacherWorkers,
            MaxBatchBytes = s.Transport.MaxBatchBytes,
            RegisterTimeout = c.JoinTimeout,
            RunDir = runDir,
        }, catalog.Resolve), TeacherNode.Name);

        var ended = agent.Ask<TeacherNodeEnded>(AwaitNodeEnd.Instance, Timeout.InfiniteTimeSpan);
        var cancelled = Task.Delay(Timeout.Infinite, ct);
        var first = await Task.WhenAny(ended, system.WhenTerminated, cancelled);
        try
        {
            if (first == cancelled)
            {
                await env.Error.WriteLineAsync($"distill: teacher node {options.Index} cancelled; leaving the cluster");
                return ExitCodes.Cancelled;
            }
            if (first == ended)
            {
                var end = await ended;
                await (end.Normal ? env.Out : env.Error).WriteLineAsync($"distill: teacher node {options.Index}: {end.Reason}");
                return end.Normal ? ExitCodes.Ok : ExitCodes.RunFailed;
            }
            // Akka.Remote (1.5.74) shuts a node down when a TLS handshake it opened fails (its reason type is internal).
            if (CoordinatedShutdown.Get(system).ShutdownReason is { } reason && reason.GetType().Name == "TlsHandshakeFailureReason")
            {
                await env.Error.WriteLineAsync(
                    $"distill: teacher node {options.Index}: the TLS handshake with the coordinator failed and Akka.Remote stopped the node ({reason}); " +
                    "its certificate and the coordinator's must come from the same CA (distill.cluster.tls.ca, distill.cluster.tls.certificate; see its log)");
                return ExitCodes.RunFailed;
            }
            await env.Error.WriteLineAsync(
                $"distill: teacher node {options.Index} was removed from the cluster (downed: the others lost contact with it)");
            return ExitCodes.RunFailed;
        }
        finally
        {
            await system.Terminate(); // leaves the cluster first when still a member
        }
    }
}
