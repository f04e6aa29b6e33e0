using System.Globalization;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;

namespace Distill.Actors.Cluster;

/// <summary>What makes an ActorSystem a node of the Distill cluster.</summary>
public sealed record ClusterNodeOptions
{
    /// <summary>Address the node binds to and other nodes reach it at.</summary>
    public string Host { get; init; } = "127.0.0.1";

    /// <summary>TCP port; 0 = any free port (the node's address then carries the port it got).</summary>
    public int Port { get; init; }

    /// <summary><see cref="ClusterNodeConfig.CoordinatorRoles"/> or <see cref="ClusterNodeConfig.TeacherRoles"/>.</summary>
    public IReadOnlyList<string> Roles { get; init; } = ClusterNodeConfig.TeacherRoles;

    /// <summary>The batch limit every node splits at (<see cref="FlowSettings.MaxBatchBytes"/>); the frame and socket
    /// buffer sizes are derived from it (<see cref="ClusterNodeConfig.FrameSize"/>).</summary>
    public long MaxBatchBytes { get; init; } = 8 * 1024 * 1024;

    /// <summary>Heartbeats may pause this long before the member counts as unreachable.</summary>
    public TimeSpan HeartbeatPause { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>An unreachable member is downed (removed) by the split-brain resolver after this long without
    /// further membership changes; then its actors count as terminated and their leases are re-issued.</summary>
    public TimeSpan DownAfter { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The node's TLS; null = plain TCP (<c>distill.cluster.insecure</c>, or tests of the flow itself). Nodes
    /// of one cluster must agree: a TLS node refuses plain connections, and their addresses differ in protocol.</summary>
    public ClusterNodeTls? Tls { get; init; }
}

/// <summary>The Akka HOCON of a cluster node: Akka.Cluster over Akka.Remote's DotNetty TCP transport, roles, the
/// frame and socket buffer sizes (all derived from the batch limit, in this one place), failure detection and the
/// split-brain resolver. Merge application settings over it; it falls back to <see cref="DistillActorsConfig.Config"/>.
/// Start the node with <see cref="Setup"/>: with TLS the transport's certificate and validator are not HOCON.</summary>
public static class ClusterNodeConfig
{
    /// <summary>Every node's ActorSystem has this name (nodes of one cluster must agree on it).</summary>
    public const string SystemName = "distill";

    public const string CoordinatorRole = "coordinator";
    public const string TrainerRole = "trainer";
    public const string TeacherRole = "teacher";
    public const string LoaderRole = "loader";

    /// <summary>The coordinator node: supervisor, stage coordinators, trainer, compute stages.</summary>
    public static readonly IReadOnlyList<string> CoordinatorRoles = [CoordinatorRole, TrainerRole];

    /// <summary>A teacher node: loaders and teacher workers.</summary>
    public static readonly IReadOnlyList<string> TeacherRoles = [TeacherRole, LoaderRole];

    /// <summary>Room above the batch limit for a message's header, manifest and the remoting envelope (sender and
    /// recipient paths).</summary>
    public const long FrameHeadroom = 256 * 1024;

    /// <summary>Akka.Remote's <c>maximum-frame-size</c> for a batch limit: a batch of the limit plus its message
    /// always fits, so no message is ever discarded as oversized.</summary>
    public static long FrameSize(long maxBatchBytes) => checked(maxBatchBytes + FrameHeadroom);

    public static Config Build(ClusterNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Port is < 0 or > 65535) throw new ArgumentOutOfRangeException(nameof(options), options.Port, "port must be in 0..65535");
        if (string.IsNullOrWhiteSpace(options.Host)) throw new ArgumentException("the node needs a host", nameof(options));
        var frame = FrameSize(options.MaxBatchBytes);
        if (frame > int.MaxValue) throw new ArgumentOutOfRangeException(nameof(options), options.MaxBatchBytes, "batch limit too large for one frame");
        string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture) + "ms";
        var roles = string.Join(", ", options.Roles.Select(r => $"\"{r}\""));
        var hocon = $$"""
            akka {
              actor.provider = cluster
              remote {
                log-remote-lifecycle-events = off
                dot-netty.tcp {
                  # On: the certificate and the validator come from ClusterNodeTls.Setup (without it the transport
                  # would look for ssl.certificate.path, which is empty, and fail to start).
                  enable-ssl = {{(options.Tls is null ? "off" : "on")}}
                  hostname = "{{options.Host}}"
                  port = {{options.Port}}
                  maximum-frame-size = {{frame}}b
                  send-buffer-size = {{frame}}b
                  receive-buffer-size = {{frame}}b
                }
              }
              cluster {
                roles = [{{roles}}]
                failure-detector.acceptable-heartbeat-pause = {{Ms(options.HeartbeatPause)}}
                downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
                # The coordinator is the heart of a run: the side of a partition that holds it stays up, every member
                # on the other side is downed (a crashed teacher node, typically). It never downs itself when alone.
                split-brain-resolver {
                  active-strategy = keep-oldest
                  stable-after = {{Ms(options.DownAfter)}}
                  keep-oldest {
                    down-if-alone = off
                    role = "{{CoordinatorRole}}"
                  }
                }
                run-coordinated-shutdown-when-down = on
              }
            }
            """;
        return ConfigurationFactory.ParseString(hocon).WithFallback(DistillActorsConfig.Config);
    }

    /// <summary>What <c>ActorSystem.Create(SystemName, ...)</c> starts a node from: <paramref name="config"/> (built by
    /// <see cref="Build"/> from <paramref name="options"/>, application settings merged over it) and, with TLS, the
    /// transport's <see cref="ClusterNodeTls.Setup"/>.</summary>
    public static ActorSystemSetup Setup(Config config, ClusterNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        var ssl = config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl");
        if (ssl != options.Tls is not null)
            throw new ArgumentException($"the config has enable-ssl = {(ssl ? "on" : "off")} but the options {(options.Tls is null ? "have no" : "have")} TLS: build it from the same options", nameof(config));
        var bootstrap = BootstrapSetup.Create().WithConfig(config);
        return options.Tls is { } tls ? bootstrap.And(tls.Setup()) : ActorSystemSetup.Create(bootstrap);
    }
}
