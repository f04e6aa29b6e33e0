using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Cluster;
using Akka.Configuration;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;
using Distill.Actors.Cluster;
using Distill.Pipeline.Cluster;
using Xunit.Abstractions;

namespace Distill.Pipeline.Tests;

/// <summary>Cluster nodes over TLS for real: ActorSystems in this process on loopback ports with certificates made by
/// <see cref="ClusterCertificates"/>. Nodes with certificates from the run's CA form a cluster and exchange messages;
/// an intruder (a certificate from another CA, no certificate, or no TLS at all) can neither join nor deliver a
/// message, and the cluster goes on working.</summary>
public sealed class ClusterTlsTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    /// <summary>After the coordinator refused the intruder, how long it keeps trying while nothing may arrive.</summary>
    private static readonly TimeSpan Grace = TimeSpan.FromSeconds(2);

    private readonly ITestOutputHelper _output;
    private readonly List<ActorSystem> _systems = [];
    private readonly X509Certificate2 _ca = ClusterCertificates.CreateAuthority("distill test CA");

    public ClusterTlsTests(ITestOutputHelper output) => _output = output;

    private static readonly Config Quiet = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = OFF
        akka.loggers = []
        akka.log-dead-letters = off
        akka.log-dead-letters-during-shutdown = off
        akka.coordinated-shutdown.run-by-actor-system-terminate = off
        """);

    /// <summary>Messages an <see cref="Inbox"/> got, as "text from sender-address".</summary>
    private sealed class Received
    {
        public readonly BlockingCollection<string> Messages = new();
        public readonly ConcurrentQueue<string> Log = new();

        public string Await(Func<string, bool> match, TimeSpan within)
        {
            var clock = Stopwatch.StartNew();
            while (Messages.TryTake(out var m, within - clock.Elapsed > TimeSpan.Zero ? within - clock.Elapsed : TimeSpan.Zero))
            {
                Log.Enqueue(m);
                if (match(m)) return m;
            }
            throw new Xunit.Sdk.XunitException($"nothing matching arrived within {within}; got: [{string.Join(", ", Log)}]");
        }
    }

    private sealed class Inbox : ReceiveActor
    {
        public Inbox(Received into) => Receive<string>(s => into.Messages.Add($"{s} from {Sender.Path.Address}"));
    }

    /// <summary>Warnings the transport logged on a node (the refusals).</summary>
    private sealed class WarningTap : ReceiveActor
    {
        public WarningTap(ConcurrentQueue<string> into) => Receive<Warning>(w => into.Enqueue(w.Message?.ToString() ?? ""));
    }

    private sealed record Node(ActorSystem System, Received Inbox, ConcurrentQueue<string> Warnings)
    {
        public Address Address => Akka.Cluster.Cluster.Get(System).SelfAddress;
        public Akka.Cluster.Cluster Cluster => Akka.Cluster.Cluster.Get(System);
    }

    private ClusterNodeTls NodeTls(X509Certificate2 ca, string name)
    {
        using var certificate = ClusterCertificates.CreateNode(ca, name, ["127.0.0.1", "localhost"]);
        // What a node loads from its file: the certificate with its key, and the CA without its key.
        return new ClusterNodeTls(X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null),
            X509CertificateLoader.LoadCertificate(ca.RawData));
    }

    /// <summary>A node on a free loopback port; <paramref name="ssl"/> replaces the setup <paramref name="tls"/> gives
    /// (an intruder's own rules).</summary>
    private Node Start(IReadOnlyList<string> roles, ClusterNodeTls? tls, DotNettySslSetup? ssl = null)
    {
        var options = new ClusterNodeOptions
        {
            Host = "127.0.0.1",
            Port = 0,
            Roles = roles,
            Tls = tls,
            HeartbeatPause = TimeSpan.FromSeconds(3),
            DownAfter = TimeSpan.FromSeconds(3),
        };
        var config = Quiet.WithFallback(ClusterNodeConfig.Build(options));
        var setup = ssl is null ? ClusterNodeConfig.Setup(config, options) : BootstrapSetup.Create().WithConfig(config).And(ssl);
        var system = ActorSystem.Create(ClusterNodeConfig.SystemName, setup);
        _systems.Add(system);
        var warnings = new ConcurrentQueue<string>();
        system.EventStream.Subscribe(system.ActorOf(Props.Create(() => new WarningTap(warnings))), typeof(Warning));
        var received = new Received();
        system.ActorOf(Props.Create(() => new Inbox(received)), "inbox");
        return new Node(system, received, warnings);
    }

    private static void AwaitUp(Node observer, int members)
    {
        var clock = Stopwatch.StartNew();
        while (observer.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up) < members)
        {
            if (clock.Elapsed > Patience)
                throw new Xunit.Sdk.XunitException($"{members} Up member(s) expected within {Patience}; members: {string.Join(", ", observer.Cluster.State.Members)}");
            Thread.Sleep(50);
        }
    }

    /// <summary>A coordinator that is its own seed and a teacher node that joined it, both with certificates of the run's CA.</summary>
    private (Node Coordinator, Node Teacher) GoodPair()
    {
        var coordinator = Start(ClusterNodeConfig.CoordinatorRoles, NodeTls(_ca, "coordinator-0"));
        coordinator.Cluster.Join(coordinator.Address);
        AwaitUp(coordinator, 1);
        var teacher = Start(ClusterNodeConfig.TeacherRoles, NodeTls(_ca, "teacher-0"));
        teacher.Cluster.Join(coordinator.Address);
        AwaitUp(coordinator, 2);
        return (coordinator, teacher);
    }

    /// <summary>A message each way between the two nodes arrives, with its sender's address.</summary>
    private static void Exchange(Node a, Node b, string tag)
    {
        a.System.ActorSelection(new RootActorPath(b.Address) / "user" / "inbox").Tell($"{tag} a->b", a.System.ActorOf(Props.Empty));
        b.Inbox.Await(m => m == $"{tag} a->b from {a.Address}", Patience);
        b.System.ActorSelection(new RootActorPath(a.Address) / "user" / "inbox").Tell($"{tag} b->a", b.System.ActorOf(Props.Empty));
        a.Inbox.Await(m => m == $"{tag} b->a from {b.Address}", Patience);
    }

    [Fact]
    public void Nodes_with_certificates_of_the_runs_ca_form_a_cluster_over_tls_and_exchange_messages()
    {
        var clock = Stopwatch.StartNew();
        var (coordinator, teacher) = GoodPair();

        Assert.Equal("akka.ssl.tcp", coordinator.Address.Protocol); // Akka.Remote names TLS in the protocol
        Assert.Equal("akka.ssl.tcp", teacher.Address.Protocol);
        Assert.Contains(coordinator.Cluster.State.Members, m => m.Address == teacher.Address && m.HasRole(ClusterNodeConfig.TeacherRole));
        Exchange(coordinator, teacher, "first");
        Exchange(coordinator, teacher, "second");
        Assert.DoesNotContain(coordinator.Warnings, w => w.Contains(ClusterNodeTls.RefusedPrefix));
        _output.WriteLine($"cluster of two over TLS, messages both ways: {clock.Elapsed.TotalSeconds:F1} s");
    }

    public enum Intruder
    {
        /// <summary>TLS with a certificate of another CA; accepts any server certificate itself.</summary>
        CertificateOfAnotherCa,
        /// <summary>TLS that presents no client certificate; accepts any server certificate.</summary>
        NoCertificate,
        /// <summary>Plain TCP to the coordinator's TLS port.</summary>
        NoTls,
    }

    [Theory]
    [InlineData(Intruder.CertificateOfAnotherCa)]
    [InlineData(Intruder.NoCertificate)]
    [InlineData(Intruder.NoTls)]
    public async Task A_node_without_a_certificate_of_the_runs_ca_can_neither_join_nor_send_and_the_cluster_goes_on(Intruder kind)
    {
        var clock = Stopwatch.StartNew();
        var (coordinator, teacher) = GoodPair();
        Exchange(coordinator, teacher, "before");

        var strangerCa = ClusterCertificates.CreateAuthority("stranger CA");
        var strangerTls = NodeTls(strangerCa, "intruder");
        CertificateValidationCallback acceptAnything = (_, _, _, _, _) => true;
        var intruder = kind switch
        {
            Intruder.CertificateOfAnotherCa => Start(ClusterNodeConfig.TeacherRoles, strangerTls,
                new DotNettySslSetup(strangerTls.Certificate, suppressValidation: true, requireMutualAuthentication: true, acceptAnything)),
            Intruder.NoCertificate => Start(ClusterNodeConfig.TeacherRoles, strangerTls,
                new DotNettySslSetup(strangerTls.Certificate, suppressValidation: true, requireMutualAuthentication: false, acceptAnything)),
            _ => Start(ClusterNodeConfig.TeacherRoles, tls: null),
        };
        // The coordinator as the intruder addresses it: the same host and port, in the intruder's protocol.
        var target = new Address(intruder.Address.Protocol, ClusterNodeConfig.SystemName, coordinator.Address.Host, coordinator.Address.Port);
        intruder.Cluster.Join(target);

        // It keeps sending while the coordinator refuses its connections.
        using var stop = new CancellationTokenSource();
        var sender = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                intruder.System.ActorSelection(new RootActorPath(target) / "user" / "inbox").Tell($"intruder {i}");
                await Task.Delay(100);
            }
        });
        // The coordinator refuses the connection in the TLS handshake: Akka.Remote's transport logs every refusal (a
        // certificate the validator refused, none at all, or no TLS: plain bytes on a TLS port).
        var waited = Stopwatch.StartNew();
        while (!coordinator.Warnings.Any(w => w.Contains("due to TLS handshake failure")))
        {
            if (waited.Elapsed > Patience)
                throw new Xunit.Sdk.XunitException($"the coordinator logged no refusal within {Patience}; its warnings: [{string.Join(" | ", coordinator.Warnings)}]");
            await Task.Delay(50);
        }
        _output.WriteLine($"{kind}: refused after {waited.Elapsed.TotalSeconds:F1} s");
        await Task.Delay(Grace);
        await stop.CancelAsync();
        await sender.WaitAsync(Patience);

        _output.WriteLine($"{kind}: coordinator's warnings:\n  {string.Join("\n  ", coordinator.Warnings.Distinct().Take(6))}");
        Assert.False(coordinator.Inbox.Messages.TryTake(out var got), $"the intruder's message arrived: {got}");
        Assert.DoesNotContain(coordinator.Cluster.State.Members, m => m.Address.Port == intruder.Address.Port);
        Assert.NotEqual(MemberStatus.Up, intruder.Cluster.SelfMember.Status);
        if (kind == Intruder.CertificateOfAnotherCa)
            Assert.Contains(coordinator.Warnings, w => w.Contains(ClusterNodeTls.RefusedPrefix) && w.Contains("is not signed by the cluster's CA 'CN=distill test CA'"));

        if (kind == Intruder.NoCertificate)
            Assert.Contains(coordinator.Warnings, w => w.Contains("did not provide a certificate"));

        // The cluster goes on: both members Up, messages both ways.
        Assert.Equal(2, coordinator.Cluster.State.Members.Count(m => m.Status == MemberStatus.Up));
        var exchange = Stopwatch.StartNew();
        Exchange(coordinator, teacher, "after");
        _output.WriteLine($"{kind}: exchange after the intruder {exchange.Elapsed.TotalSeconds:F1} s");
        _output.WriteLine($"{kind}: {clock.Elapsed.TotalSeconds:F1} s");
    }

    public void Dispose()
    {
        foreach (var system in Enumerable.Reverse(_systems))
        {
            try { system.Terminate().Wait(TimeSpan.FromSeconds(10)); }
            catch (Exception) { /* best effort */ }
        }
    }
}
