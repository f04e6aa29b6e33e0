using Distill.Actors.Cluster;
using Distill.Pipeline.Cluster;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Tests;

public class ClusterConfigTests
{
    private static LoadedConfiguration Cluster(params string[] defines) =>
        ConfigLoader.Load(new ConfigSources { Preset = "tiny", Overrides = defines, ClusterOverlay = true });

    [Fact]
    public void The_cluster_overlay_sets_the_per_node_parallelism_and_minus_d_overrides_it()
    {
        var single = Cfg.Load("tiny").Settings.Cluster;
        Assert.Equal(2, single.TeacherLoaders); // pipeline.conf

        var overlay = Cluster();
        var c = overlay.Settings.Cluster;
        Assert.Equal(("127.0.0.1", "", 4053, 4, 0, 1, 1), (c.Host, c.Seed, c.CoordinatorPort, c.CreditWindow, c.TeacherBasePort, c.TeacherLoaders, c.TeacherWorkers));
        Assert.Equal((TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)),
            (c.TeacherWait, c.JoinTimeout, c.HeartbeatPause, c.DownAfter));
        Assert.StartsWith("cluster ", overlay.SourceOf("distill.cluster.teacher.loaders"));
        Assert.Contains(overlay.Layers, l => l.StartsWith("cluster ", StringComparison.Ordinal));

        Assert.Equal((null, null, null, false), (c.Tls.Ca, c.Tls.Certificate, c.Tls.Key, c.Insecure)); // TLS, throwaway certificates

        var overridden = Cluster("distill.cluster.teacher.workers=3", "distill.cluster.seed=akka.ssl.tcp://distill@10.0.0.5:4053").Settings.Cluster;
        Assert.Equal(3, overridden.TeacherWorkers);
        Assert.Equal("akka.ssl.tcp://distill@10.0.0.5:4053", overridden.Seed);
    }

    [Theory]
    [InlineData("distill.cluster.seed=\"http://10.0.0.5:4053\"", "distill.cluster.seed: 'http://10.0.0.5:4053' uses protocol 'http', expected akka.ssl.tcp (TLS) or akka.tcp (distill.cluster.insecure = true)")]
    [InlineData("distill.cluster.seed=\"akka.ssl.tcp://distill@10.0.0.5\"", "distill.cluster.seed: 'akka.ssl.tcp://distill@10.0.0.5' needs a host and a port")]
    [InlineData("distill.cluster.seed=\"akka.tcp://distill@10.0.0.5:4053\"", "distill.cluster.seed: 'akka.tcp://distill@10.0.0.5:4053' is a plain-TCP address (akka.tcp) but this cluster uses TLS")]
    [InlineData("distill.cluster.host=\"0.0.0.0\"", "distill.cluster.host: '0.0.0.0' binds every interface")]
    [InlineData("distill.cluster.host=\"\"", "distill.cluster.host")]
    [InlineData("distill.cluster.teacher.base-port=4053", "distill.cluster.teacher.base-port (4053) must differ from distill.cluster.coordinator.port (4053)")]
    [InlineData("distill.cluster.teacher.loaders=0", "distill.cluster.teacher.loaders")]
    [InlineData("distill.cluster.coordinator.port=70000", "distill.cluster.coordinator.port")]
    [InlineData("distill.cluster.down-after=0", "distill.cluster.down-after")]
    [InlineData("distill.cluster.teachers=2", "unknown key distill.cluster.teachers")]
    public void Bad_cluster_values_are_errors_naming_the_key(string define, string message)
    {
        var e = Assert.Throws<ConfigurationErrorException>(() => Cluster(define));
        Assert.Contains(e.Errors, m => m.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void The_frame_size_is_above_the_batch_limit_on_every_node()
    {
        var max = Cfg.Load("tiny").Settings.Transport.MaxBatchBytes;
        var config = ClusterNodeConfig.Build(new ClusterNodeOptions { MaxBatchBytes = max });
        var frame = config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size");
        Assert.Equal(max + ClusterNodeConfig.FrameHeadroom, frame);
        Assert.Equal(frame, config.GetByteSize("akka.remote.dot-netty.tcp.send-buffer-size"));
        Assert.Equal(frame, config.GetByteSize("akka.remote.dot-netty.tcp.receive-buffer-size"));
        Assert.Equal("keep-oldest", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
    }

    [Theory]
    [InlineData("akka.ssl.tcp://distill@127.0.0.1:4053", null)]
    [InlineData("akka.tcp://distill@127.0.0.1:4053", null)]
    [InlineData("akka.ssl.tcp://distill@machine-2.lan:9000", null)]
    [InlineData("akka.ssl.tcp://distill@127.0.0.1:0", "needs a host and a port")]
    [InlineData("distill@127.0.0.1:4053", "is not an address like akka.ssl.tcp://distill@HOST:4053")]
    public void Seed_addresses(string text, string? problem)
    {
        var found = ClusterAddress.Check(text);
        if (problem is null) Assert.Null(found);
        else Assert.Contains(problem, found);
    }

    [Theory]
    [InlineData("akka.ssl.tcp://distill@10.0.0.5:4053", true, null)]
    [InlineData("akka.tcp://distill@10.0.0.5:4053", true, "is a plain-TCP address (akka.tcp) but this cluster uses TLS")]
    [InlineData("akka.tcp://distill@10.0.0.5:4053", false, null)]
    [InlineData("akka.ssl.tcp://distill@10.0.0.5:4053", false, "is a TLS address (akka.ssl.tcp) but distill.cluster.insecure = true turns TLS off")]
    public void A_seed_must_match_the_clusters_transport(string seed, bool tls, string? problem)
    {
        var found = ClusterAddress.Check(seed, tls);
        if (problem is null) Assert.Null(found);
        else Assert.Contains(problem, found);
    }

    [Fact]
    public void A_host_other_nodes_reach_needs_certificates_or_insecure()
    {
        var e = Assert.Throws<ConfigurationErrorException>(() => Cluster("distill.cluster.host=10.0.0.5"));
        var error = Assert.Single(e.Errors);
        Assert.Contains("distill.cluster.host '10.0.0.5' is not a loopback address", error);
        Assert.Contains("distill.cluster.tls.ca", error);
        Assert.Contains("distill.cluster.tls.certificate", error);
        Assert.Contains("distill.cluster.insecure = true", error);
        Assert.Contains("distill.cluster.host 'machine-2.lan' is not a loopback address",
            Assert.Single(Assert.Throws<ConfigurationErrorException>(() => Cluster("distill.cluster.host=machine-2.lan")).Errors));

        // Loopback hosts need nothing: the run's throwaway certificates.
        foreach (var loopback in new[] { "127.0.0.1", "127.0.0.2", "localhost", "\"::1\"" })
            Assert.False(Cluster($"distill.cluster.host={loopback}").Settings.Cluster.Insecure);

        // Certificates: TLS, paths bound absolute.
        var given = Cluster("distill.cluster.host=10.0.0.5", "distill.cluster.tls.ca=certs/ca.crt", "distill.cluster.tls.certificate=certs/node.p12").Settings.Cluster;
        Assert.Equal((Path.GetFullPath("certs/ca.crt"), Path.GetFullPath("certs/node.p12"), null), (given.Tls.Ca, given.Tls.Certificate, given.Tls.Key));
    }

    [Fact]
    public void Insecure_turns_tls_off_with_a_warning_and_no_error()
    {
        var c = Cluster("distill.cluster.host=10.0.0.5", "distill.cluster.insecure=true", "distill.cluster.seed=akka.tcp://distill@10.0.0.1:4053").Settings.Cluster;
        Assert.True(c.Insecure);
        Assert.Null(ClusterSecurity.Resolve(c, runRoot: null, "teacher-0", makeAuthority: false)); // plain TCP
        var warning = ClusterSecurity.InsecureWarning(c);
        Assert.StartsWith("distill: WARNING: distill.cluster.insecure = true", warning);
        Assert.Contains("10.0.0.5 has no TLS", warning);
        Assert.Contains("any process that can reach this node's port can join the cluster", warning);
    }

    [Theory]
    [InlineData(new[] { "distill.cluster.tls.certificate=node.p12" }, "distill.cluster.tls.certificate needs distill.cluster.tls.ca")]
    [InlineData(new[] { "distill.cluster.tls.ca=ca.crt" }, "distill.cluster.tls.ca needs distill.cluster.tls.certificate")]
    [InlineData(new[] { "distill.cluster.tls.key=node.key" }, "distill.cluster.tls.key is the private key of a PEM distill.cluster.tls.certificate, which is not set")]
    [InlineData(new[] { "distill.cluster.insecure=true", "distill.cluster.tls.certificate=node.p12" }, "distill.cluster.insecure = true turns TLS off, but distill.cluster.tls.certificate is set ('node.p12')")]
    [InlineData(new[] { "distill.cluster.insecure=maybe" }, "distill.cluster.insecure")]
    public void Tls_keys_that_do_not_go_together_are_errors_naming_them(string[] defines, string message)
    {
        var e = Assert.Throws<ConfigurationErrorException>(() => Cluster(defines));
        Assert.Contains(e.Errors, m => m.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void A_nodes_certificate_given_by_path_is_used_and_one_of_another_ca_is_an_error_naming_it()
    {
        using var dir = new TempDir();
        using var ca = ClusterCertificates.CreateAuthority("site CA");
        using var other = ClusterCertificates.CreateAuthority("other CA");
        using var node = ClusterCertificates.CreateNode(ca, "teacher-0", ["10.0.0.5"]);
        using var foreign = ClusterCertificates.CreateNode(other, "teacher-0", ["10.0.0.5"]);
        var caFile = dir.File("ca.crt", ca.ExportCertificatePem());
        var good = Path.Combine(dir.Path, "node.p12");
        File.WriteAllBytes(good, node.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));
        var bad = Path.Combine(dir.Path, "foreign.p12");
        File.WriteAllBytes(bad, foreign.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));

        ClusterSettings With(string certificate) => Cluster("distill.cluster.host=10.0.0.5", $"distill.cluster.tls.ca={caFile}",
            $"distill.cluster.tls.certificate={certificate}").Settings.Cluster;
        var tls = ClusterSecurity.Resolve(With(good), runRoot: null, "teacher-0", makeAuthority: false)!;
        Assert.Equal(node.Thumbprint, tls.Certificate.Thumbprint);
        Assert.Equal(ca.Thumbprint, tls.Authority.Thumbprint);
        Assert.False(tls.Authority.HasPrivateKey);

        var e = Assert.Throws<ClusterTlsException>(() => ClusterSecurity.Resolve(With(bad), runRoot: null, "teacher-0", makeAuthority: false));
        Assert.Contains($"distill.cluster.tls.certificate: {bad}", e.Message);
        Assert.Contains("is not signed by the cluster's CA 'CN=site CA'", e.Message);
        Assert.Contains($"distill.cluster.tls.ca {caFile}", e.Message);
        var missing = Path.Combine(dir.Path, "missing.p12");
        Assert.Contains($"distill.cluster.tls.certificate: {missing} cannot be read",
            Assert.Throws<ClusterTlsException>(() => ClusterSecurity.Resolve(With(missing), runRoot: null, "teacher-0", makeAuthority: false)).Message);
    }

    [Fact]
    public void A_loopback_node_without_certificates_uses_the_runs_throwaway_ones_and_needs_the_run_directory()
    {
        using var dir = new TempDir();
        var c = Cluster().Settings.Cluster;
        var coordinator = ClusterSecurity.Resolve(c, dir.Path, "coordinator-0", makeAuthority: true)!;
        var teacher = ClusterSecurity.Resolve(c, dir.Path, "teacher-0", makeAuthority: false)!;
        Assert.Equal(coordinator.Authority.Thumbprint, teacher.Authority.Thumbprint);
        Assert.True(File.Exists(Path.Combine(dir.Path, "cluster", "tls", "node-teacher-0.p12")));

        var e = Assert.Throws<ClusterTlsException>(() => ClusterSecurity.Resolve(c, runRoot: null, "teacher-0", makeAuthority: false));
        Assert.Contains("give --run", e.Message);
    }
}
