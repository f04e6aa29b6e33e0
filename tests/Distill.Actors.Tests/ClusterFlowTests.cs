using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Remote;
using Distill.Actors.Cluster;
using Distill.Actors.Messages;
using Distill.Actors.Supervision;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

/// <summary>A cluster of ActorSystems in this process on loopback ports: the test kit's system is the coordinator
/// node (supervisor, stage coordinator, trainer, registry), teacher nodes are systems of their own that join it.</summary>
public sealed class ClusterFlowTests : Akka.TestKit.Xunit2.TestKit
{
    /// <summary>Small enough that one shard's batch (about 0.6 MB) is larger than a whole frame: sent unsplit, it
    /// would be discarded by the transport.</summary>
    private const long MaxBatchBytes = 64 * 1024;

    private static readonly TimeSpan Long = TimeSpan.FromSeconds(90);
    private readonly List<ActorSystem> _teachers = new();
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "distill-cluster-tests", Guid.NewGuid().ToString("N"));

    /// <summary>serialize-messages is off here, unlike the other actor tests: Akka.Cluster's own events
    /// (ReachabilityChanged) do not survive it, so downing would never happen. Every message between the nodes is
    /// serialized for real by the transport instead.</summary>
    private static Config NodeConfig(IReadOnlyList<string> roles) => ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        akka.actor.serialize-messages = off
        akka.actor.serialize-creators = off
        akka.log-dead-letters = off
        akka.coordinated-shutdown.terminate-actor-system = on
        """).WithFallback(ClusterNodeConfig.Build(new ClusterNodeOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            Roles = roles,
            MaxBatchBytes = MaxBatchBytes,
            HeartbeatPause = TimeSpan.FromSeconds(2),
            DownAfter = TimeSpan.FromSeconds(2),
        }));

    /// <summary>Teacher nodes end without leaving the cluster at the test's end (a cut-off node cannot leave, and the
    /// coordinator goes too).</summary>
    private static readonly Config TeacherConfig = ConfigurationFactory
        .ParseString("akka.coordinated-shutdown.run-by-actor-system-terminate = off")
        .WithFallback(NodeConfig(ClusterNodeConfig.TeacherRoles));

    public ClusterFlowTests(ITestOutputHelper output)
        : base(NodeConfig(ClusterNodeConfig.CoordinatorRoles), ClusterNodeConfig.SystemName, output)
    {
        Directory.CreateDirectory(_folder);
    }

    private Address CoordinatorAddress => Akka.Cluster.Cluster.Get(Sys).SelfAddress;

    private IActorRef StartCoordinator()
    {
        var registry = Sys.ActorOf(TeacherNodeRegistry.Props(_folder), TeacherNodeRegistry.Name);
        Akka.Cluster.Cluster.Get(Sys).Join(CoordinatorAddress);
        AwaitAssert(() => Assert.Equal(MemberStatus.Up, Akka.Cluster.Cluster.Get(Sys).SelfMember.Status), Long);
        return registry;
    }

    /// <summary>A teacher node: joins the coordinator and serves <paramref name="stage"/> for every stage opened on it.</summary>
    private ActorSystem StartTeacher(DistillStage stage)
    {
        var system = ActorSystem.Create(ClusterNodeConfig.SystemName, TeacherConfig);
        _teachers.Add(system);
        Akka.Cluster.Cluster.Get(system).Join(CoordinatorAddress);
        var options = new TeacherNodeOptions { Loaders = 1, TeacherWorkers = 1, MaxBatchBytes = MaxBatchBytes, RunDir = _folder };
        system.ActorOf(TeacherNode.Props(options, _ => stage), TeacherNode.Name);
        return system;
    }

    private IActorRef StartPipeline(DistillStage stage, IActorRef registry, string ledger)
    {
        var settings = new FlowSettings
        {
            CreditWindow = 4,
            MaxBatchBytes = MaxBatchBytes,
            TeacherNodes = registry,
            TeacherWait = TimeSpan.FromSeconds(60),
        };
        var supervisor = Sys.ActorOf(PipelineSupervisor.Props([stage], settings, ledger, NullStageProgress.Instance), "sup");
        supervisor.Tell(RunPipeline.Instance, TestActor);
        return supervisor;
    }

    /// <summary>Cuts the node off like a killed process: its transport closes, it never leaves the cluster, its actors
    /// send nothing more. The others must notice it is unreachable and down it.</summary>
    private static async Task KillAbruptly(ActorSystem node)
    {
        var provider = (RemoteActorRefProvider)((ExtendedActorSystem)node).Provider;
        await provider.Transport.Shutdown();
    }

    [Fact]
    public async Task Teacher_nodes_join_work_over_remoting_and_a_killed_one_has_its_leases_reissued_so_every_shard_is_consumed_once()
    {
        const int shards = 10;
        var scenario = new ArrowFlowScenario(shards, rowsPerShard: 30, idsPerRow: 4000);
        Assert.True(scenario.ShardBytes(0).Length > ClusterNodeConfig.FrameSize(MaxBatchBytes), "a batch must exceed a frame");
        var ledger = Path.Combine(_folder, "ledger.jsonl");

        var registry = StartCoordinator();
        // Teacher node A joins first and hangs in its first inference, holding its leases (one inferring, one loaded).
        var a = StartTeacher(scenario.Stage(stallTeacher: true));
        StartPipeline(scenario.Stage(), registry, ledger);
        Assert.True(scenario.Stalled.Wait(Long), "teacher node A never got a shard");

        // Teacher node B joins mid-stage and takes the rest; then A is killed.
        StartTeacher(scenario.Stage());
        AwaitAssert(() => Assert.Equal(3, Akka.Cluster.Cluster.Get(Sys).State.Members.Count(m => m.Status == MemberStatus.Up)), Long);
        await KillAbruptly(a);
        scenario.Release.Set(); // A's teacher returns into a node that can no longer send anything

        var done = ExpectMsg<PipelineCompleted>(Long);
        var result = Assert.Single(done.Stages);

        // Every shard consumed exactly once, each with all its rows (the student checks them), though every batch was
        // larger than a transport frame.
        Assert.Equal(Enumerable.Range(0, shards), scenario.Consumed.Order());
        Assert.Equal(shards, result.Shards.Consumed);
        Assert.True(result.Shards.Reissued >= 1, $"nothing re-issued: {result.Shards}");
        Assert.Equal(shards + result.Shards.Reissued, result.Shards.Issued);
        Assert.Contains(Enumerable.Range(0, shards), s => scenario.InferCalls(s) == 2); // A's stalled shard, again on B

        var completed = new RunLedger(ledger).ReadAll()[^1];
        Assert.Equal(RunLedgerStatus.Completed, completed.Status);
        Assert.Equal((result.Shards.Issued, result.Shards.Reissued, shards),
            (completed.ShardsIssued ?? 0, completed.ShardsReissued ?? 0, completed.ShardsConsumed ?? 0));
        // A is out of the cluster: downed and removed.
        AwaitAssert(() => Assert.Equal(2, Akka.Cluster.Cluster.Get(Sys).State.Members.Count), Long);
    }

    [Fact]
    public void A_teacher_node_that_cannot_open_the_stage_fails_it_with_the_nodes_error()
    {
        var scenario = new ArrowFlowScenario(3, rowsPerShard: 2, idsPerRow: 4);
        var registry = StartCoordinator();
        var system = ActorSystem.Create(ClusterNodeConfig.SystemName, TeacherConfig);
        _teachers.Add(system);
        Akka.Cluster.Cluster.Get(system).Join(CoordinatorAddress);
        system.ActorOf(TeacherNode.Props(new TeacherNodeOptions { RunDir = _folder },
            request => throw new FileNotFoundException($"{request.RunDir}/config.resolved.conf not found")), TeacherNode.Name);

        StartPipeline(scenario.Stage(), registry, Path.Combine(_folder, "ledger.jsonl"));
        var failed = ExpectMsg<PipelineFailed>(Long);
        Assert.Equal("mimic", failed.Stage);
        Assert.Contains("teacher node akka.tcp://distill@127.0.0.1:", failed.Error);
        Assert.Contains($"opening stage 'mimic' failed: {_folder}/config.resolved.conf not found", failed.Error);
    }

    [Fact]
    public async Task A_teacher_node_ends_normally_when_the_coordinator_leaves()
    {
        var scenario = new ArrowFlowScenario(1, rowsPerShard: 1, idsPerRow: 1);
        var registry = StartCoordinator();
        registry.Tell(new SubscribeTeacherNodes(TestActor));
        var teacher = StartTeacher(scenario.Stage());
        var node = ExpectMsg<TeacherNodeAvailable>(Long).Node; // registered
        Assert.Equal(Akka.Cluster.Cluster.Get(teacher).SelfAddress, node.Path.Address);
        // Asked from the teacher's own system: the coordinator's is leaving.
        var local = await teacher.ActorSelection($"/user/{TeacherNode.Name}").ResolveOne(Long);
        var ended = local.Ask<TeacherNodeEnded>(AwaitNodeEnd.Instance, Long);

        Akka.Cluster.Cluster.Get(Sys).Leave(CoordinatorAddress);
        var end = await ended;
        Assert.True(end.Normal, end.Reason);
        Assert.Contains("left the cluster", end.Reason);
    }

    protected override void Dispose(bool disposing)
    {
        foreach (var system in _teachers)
        {
            try { system.Terminate().Wait(TimeSpan.FromSeconds(20)); }
            catch (Exception) { /* a cut-off node may not shut down cleanly */ }
        }
        base.Dispose(disposing);
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
