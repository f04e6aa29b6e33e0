using Akka.Actor;
using Distill.Actors;
using Distill.Actors.Cluster;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Cluster;

/// <summary>The coordinator node of a cluster run: an ActorSystem with the coordinator and trainer roles on
/// <c>distill.cluster.host</c>:<c>coordinator.port</c>, the cluster's seed (it joins itself), with the
/// <see cref="TeacherNodeRegistry"/>. Once it is up, its address goes to <c>&lt;run&gt;/cluster/seed</c> for the teacher
/// nodes. Distillation stages then run their loaders and teacher workers on the teacher nodes and wait for one to
/// join (<c>distill.cluster.teacher-wait</c>); compute stages (teacher, eval) run here. The transport is TLS
/// (<see cref="ClusterSecurity"/>): on a loopback host without certificates the coordinator makes the run's throwaway
/// CA and certificates under <c>&lt;run&gt;/cluster/tls/</c>; plain TCP only with <c>distill.cluster.insecure</c>,
/// warned about on <paramref name="error"/>.</summary>
public sealed class CoordinatorHosting(TextWriter output, TextWriter error) : ActorHosting
{
    /// <summary>The coordinator is node 0 of its role (its log, pid and certificate file are named so).</summary>
    public const string NodeName = "coordinator-0";

    /// <summary>How long the node may take to become an Up member of its own cluster.</summary>
    public static TimeSpan UpTimeout { get; set; } = TimeSpan.FromSeconds(30);

    private Address? _address;

    private string _transport = "";

    public override string Describe() =>
        _address is null ? "cluster (coordinator not started)" : $"cluster: coordinator {_address} with teacher nodes ({_transport})";

    public override async Task<(ActorSystem System, FlowSettings Flow)> StartAsync(DistillSettings settings, RunPaths paths,
        FlowSettings flow, CancellationToken ct)
    {
        var c = settings.Cluster;
        var tls = ClusterSecurity.Resolve(c, paths.Root, NodeName, makeAuthority: true);
        if (tls is null) await error.WriteLineAsync(ClusterSecurity.InsecureWarning(c));
        _transport = tls is null ? "plain TCP: distill.cluster.insecure" : $"TLS, mutual authentication, CA '{tls.Authority.Subject}'";
        var options = new ClusterNodeOptions
        {
            Host = c.Host,
            Port = c.CoordinatorPort,
            Roles = ClusterNodeConfig.CoordinatorRoles,
            MaxBatchBytes = settings.Transport.MaxBatchBytes,
            HeartbeatPause = c.HeartbeatPause,
            DownAfter = c.DownAfter,
            Tls = tls,
        };
        var config = LoggingConfig.WithFallback(ClusterNodeConfig.Build(options));
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(ClusterNodeConfig.SystemName, ClusterNodeConfig.Setup(config, options));
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                $"the coordinator cannot listen on {c.Host}:{c.CoordinatorPort} (distill.cluster.host, distill.cluster.coordinator.port): " +
                (e.InnerException ?? e).Message, e);
        }

        try
        {
            var registry = system.ActorOf(TeacherNodeRegistry.Props(paths.Root), TeacherNodeRegistry.Name);
            var cluster = Akka.Cluster.Cluster.Get(system);
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            cluster.RegisterOnMemberUp(() => up.TrySetResult());
            cluster.Join(cluster.SelfAddress);
            await up.Task.WaitAsync(UpTimeout, ct);

            _address = cluster.SelfAddress;
            ClusterRunFiles.WriteSeed(paths.Root, _address.ToString());
            await output.WriteLineAsync($"distill: coordinator at {_address}; teacher nodes join with: distill node --role teacher --seed {_address}");
            return (system, flow with
            {
                TeacherNodes = registry,
                CreditWindow = c.CreditWindow,
                TeacherWait = c.TeacherWait,
            });
        }
        catch
        {
            await system.Terminate();
            throw;
        }
    }

    /// <summary>The pipeline on a coordinator node (<see cref="Composition.PipelineRunner"/> of <c>distill node --role
    /// coordinator</c>).</summary>
    public static Task<Composition.RunOutcome> RunAsync(DistillSettings settings, RunPaths paths, Stages.Flow.IStageProgress progress, CancellationToken ct) =>
        PipelineHost.RunAsync(settings, paths, progress, ct, new CoordinatorHosting(Console.Out, Console.Error));
}
