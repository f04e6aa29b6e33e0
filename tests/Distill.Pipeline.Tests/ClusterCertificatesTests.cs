using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distill.Actors.Cluster;
using Distill.Pipeline.Cluster;

namespace Distill.Pipeline.Tests;

/// <summary>The certificates <see cref="ClusterCertificates"/> makes and reads: the run's throwaway CA and node
/// certificates of a loopback run, and certificates given by path (PKCS#12, or PEM with a key).</summary>
public class ClusterCertificatesTests
{
    private static X509Certificate2 Public(X509Certificate2 c) => X509CertificateLoader.LoadCertificate(c.RawData);

    private static IReadOnlyList<string> AlternativeNames(X509Certificate2 c)
    {
        var extension = c.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        return [.. extension.EnumerateDnsNames(), .. extension.EnumerateIPAddresses().Select(a => a.ToString())];
    }

    [Fact]
    public void The_coordinator_makes_the_runs_ca_and_each_node_its_certificate_signed_by_it()
    {
        using var dir = new TempDir();
        var coordinator = ClusterCertificates.ForLoopbackRun(dir.Path, "coordinator-0", "127.0.0.1", makeAuthority: true);
        var teacher = ClusterCertificates.ForLoopbackRun(dir.Path, "teacher-1", "localhost", makeAuthority: false);

        var folder = Path.Combine(dir.Path, "cluster", "tls");
        Assert.Equal(["ca.crt", "ca.key", "node-coordinator-0.p12", "node-teacher-1.p12"],
            Directory.GetFiles(folder).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // The CA is a CA: basic constraints, signs certificates, self-signed; its file is the certificate only.
        var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(folder, "ca.crt"));
        Assert.False(ca.HasPrivateKey);
        var constraints = ca.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
        Assert.True(ca.Extensions.OfType<X509KeyUsageExtension>().Single().KeyUsages.HasFlag(X509KeyUsageFlags.KeyCertSign));
        Assert.Equal(ca.Subject, ca.Issuer);
        Assert.Equal(ca.Thumbprint, coordinator.Authority.Thumbprint);
        Assert.Equal(ca.Thumbprint, teacher.Authority.Thumbprint);

        foreach (var node in new[] { coordinator, teacher })
        {
            // Each node's certificate has its key, is no CA, chains to the run's CA and nothing else, and serves
            // both ends of a TLS connection.
            var own = node.Certificate;
            Assert.True(own.HasPrivateKey);
            Assert.False(own.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
            Assert.Equal(ca.Subject, own.Issuer);
            Assert.Null(node.Problem(own));
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            Assert.True(chain.Build(own), string.Join(", ", chain.ChainStatus.Select(s => s.StatusInformation)));
            Assert.Equal(ca.Thumbprint, chain.ChainElements[^1].Certificate.Thumbprint);
            var usages = own.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<Oid>().Select(o => o.Value);
            Assert.Equal(["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"], usages.Order());
            Assert.True(own.NotAfter <= ca.NotAfter);
        }
        Assert.NotEqual(coordinator.Certificate.Thumbprint, teacher.Certificate.Thumbprint);
        Assert.Contains("coordinator-0", coordinator.Certificate.Subject);

        // The names: the node's host and the loopback ones.
        Assert.Equal(["127.0.0.1", "::1", "localhost"], AlternativeNames(coordinator.Certificate).Order(StringComparer.Ordinal));
        Assert.Equal(["127.0.0.1", "::1", "localhost"], AlternativeNames(teacher.Certificate).Order(StringComparer.Ordinal));

        // Keys are for their owner's eyes only.
        foreach (var secret in new[] { "ca.key", "node-coordinator-0.p12", "node-teacher-1.p12" })
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(folder, secret)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
    }

    [Fact]
    public void A_nodes_names_include_its_own_host()
    {
        using var dir = new TempDir();
        var tls = ClusterCertificates.ForLoopbackRun(dir.Path, "coordinator-0", "127.0.0.2", makeAuthority: true);
        Assert.Contains("127.0.0.2", AlternativeNames(tls.Certificate));
        using var ca = ClusterCertificates.CreateAuthority("ca");
        using var named = ClusterCertificates.CreateNode(ca, "teacher-0", ["machine-2.lan", "10.0.0.5"]);
        Assert.Equal(["10.0.0.5", "machine-2.lan"], AlternativeNames(named).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_second_start_reuses_the_runs_certificates_and_never_overwrites_a_file()
    {
        using var dir = new TempDir();
        var first = ClusterCertificates.ForLoopbackRun(dir.Path, "coordinator-0", "127.0.0.1", makeAuthority: true);
        var again = ClusterCertificates.ForLoopbackRun(dir.Path, "coordinator-0", "127.0.0.1", makeAuthority: true);
        Assert.Equal(first.Authority.Thumbprint, again.Authority.Thumbprint);
        Assert.Equal(first.Certificate.Thumbprint, again.Certificate.Thumbprint);

        // A node file that is not from the run's CA is an error naming it, and stays as it was.
        var node = ClusterCertificates.NodeFile(dir.Path, "teacher-0");
        using (var stranger = ClusterCertificates.CreateAuthority("stranger"))
        using (var foreign = ClusterCertificates.CreateNode(stranger, "teacher-0", ["127.0.0.1"]))
            File.WriteAllBytes(node, foreign.Export(X509ContentType.Pkcs12));
        var before = File.ReadAllBytes(node);
        var e = Assert.Throws<ClusterTlsException>(() => ClusterCertificates.ForLoopbackRun(dir.Path, "teacher-0", "127.0.0.1", makeAuthority: false));
        Assert.Contains(node, e.Message);
        Assert.Contains("is not signed by the cluster's CA", e.Message);
        Assert.Contains("it is not replaced", e.Message);
        Assert.Equal(before, File.ReadAllBytes(node));

        // So is one that is not PKCS#12 at all.
        File.WriteAllText(node, "not a certificate");
        e = Assert.Throws<ClusterTlsException>(() => ClusterCertificates.ForLoopbackRun(dir.Path, "teacher-0", "127.0.0.1", makeAuthority: false));
        Assert.Contains(node, e.Message);
        Assert.Equal("not a certificate", File.ReadAllText(node));
    }

    [Fact]
    public void A_teacher_node_before_the_coordinator_or_a_half_ca_folder_is_an_error_naming_the_files()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<ClusterTlsException>(() => ClusterCertificates.ForLoopbackRun(dir.Path, "teacher-0", "127.0.0.1", makeAuthority: false));
        Assert.Contains(Path.Combine(dir.Path, "cluster", "tls", "ca.crt"), e.Message);
        Assert.Contains("the coordinator makes the run's throwaway CA", e.Message);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "cluster", "tls")));

        // A user's ca.crt without a key: not the run's, not replaced.
        var folder = Directory.CreateDirectory(Path.Combine(dir.Path, "cluster", "tls")).FullName;
        using (var mine = ClusterCertificates.CreateAuthority("mine")) File.WriteAllText(Path.Combine(folder, "ca.crt"), mine.ExportCertificatePem());
        var before = File.ReadAllText(Path.Combine(folder, "ca.crt"));
        e = Assert.Throws<ClusterTlsException>(() => ClusterCertificates.ForLoopbackRun(dir.Path, "coordinator-0", "127.0.0.1", makeAuthority: true));
        Assert.Contains("has only one of ca.crt and ca.key", e.Message);
        Assert.Equal(before, File.ReadAllText(Path.Combine(folder, "ca.crt")));
        Assert.Equal(["ca.crt"], Directory.GetFiles(folder).Select(Path.GetFileName));
    }

    [Fact]
    public void Certificates_given_by_path_are_read_as_pkcs12_or_pem_with_a_key()
    {
        using var dir = new TempDir();
        using var ca = ClusterCertificates.CreateAuthority("given CA");
        using var node = ClusterCertificates.CreateNode(ca, "teacher-0", ["10.0.0.5"]);
        var caFile = dir.File("ca.pem", ca.ExportCertificatePem());
        var caDer = Path.Combine(dir.Path, "ca.der");
        File.WriteAllBytes(caDer, ca.RawData);
        var p12 = Path.Combine(dir.Path, "node.p12");
        File.WriteAllBytes(p12, node.Export(X509ContentType.Pkcs12));
        var pem = dir.File("node.crt", node.ExportCertificatePem());
        using var key = node.GetECDsaPrivateKey()!;
        var keyFile = dir.File("node.key", key.ExportPkcs8PrivateKeyPem());

        Assert.Equal(ca.Thumbprint, ClusterCertificates.LoadAuthority(caFile).Thumbprint);
        Assert.Equal(ca.Thumbprint, ClusterCertificates.LoadAuthority(caDer).Thumbprint);
        foreach (var loaded in new[] { ClusterCertificates.LoadNode(p12, null), ClusterCertificates.LoadNode(pem, keyFile) })
        {
            Assert.True(loaded.HasPrivateKey);
            Assert.Equal(node.Thumbprint, loaded.Thumbprint);
            Assert.Null(new ClusterNodeTls(loaded, Public(ca)).Problem(loaded));
        }

        Assert.Contains("give its private key in distill.cluster.tls.key",
            Assert.Throws<ClusterTlsException>(() => ClusterCertificates.LoadNode(pem, null)).Message);
        var noKey = Path.Combine(dir.Path, "nokey.p12");
        File.WriteAllBytes(noKey, Public(node).Export(X509ContentType.Pkcs12));
        Assert.Contains($"distill.cluster.tls.certificate: {noKey} holds no private key",
            Assert.Throws<ClusterTlsException>(() => ClusterCertificates.LoadNode(noKey, null)).Message);
        var locked = Path.Combine(dir.Path, "locked.p12");
        File.WriteAllBytes(locked, node.Export(X509ContentType.Pkcs12, "secret"));
        Assert.Contains($"distill.cluster.tls.certificate: {locked} cannot be read as PKCS#12 without a password",
            Assert.Throws<ClusterTlsException>(() => ClusterCertificates.LoadNode(locked, null)).Message);
        Assert.Contains($"distill.cluster.tls.ca: {keyFile} cannot be read as a certificate",
            Assert.Throws<ClusterTlsException>(() => ClusterCertificates.LoadAuthority(keyFile)).Message);
    }

    [Fact]
    public void The_validator_refuses_a_certificate_of_another_ca_one_outside_its_validity_and_one_only_for_servers()
    {
        using var ca = ClusterCertificates.CreateAuthority("run CA");
        using var other = ClusterCertificates.CreateAuthority("run CA"); // same name, another key
        using var good = ClusterCertificates.CreateNode(ca, "a", ["127.0.0.1"]);
        using var foreign = ClusterCertificates.CreateNode(other, "b", ["127.0.0.1"]);
        var tls = new ClusterNodeTls(good, Public(ca));

        Assert.Null(tls.Problem(good));
        Assert.Contains("is not signed by the cluster's CA 'CN=run CA'", tls.Problem(foreign));
        Assert.Equal("it presented no certificate", tls.Problem(null));
        Assert.Contains("is not signed by the cluster's CA", tls.Problem(Public(other))); // another CA itself

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        X509Certificate2 Signed(Action<CertificateRequest> extend, DateTimeOffset from, DateTimeOffset to)
        {
            var request = new CertificateRequest("CN=odd", key, HashAlgorithmName.SHA256);
            extend(request);
            return request.Create(ca, from, to, [1, 2, 3, 4]);
        }
        var now = DateTimeOffset.UtcNow;
        // Outside its validity period (a certificate cannot be made to end before its CA began: one not valid yet).
        using var notYet = Signed(_ => { }, now.AddDays(1), now.AddDays(2));
        Assert.Contains("is outside its validity period", tls.Problem(notYet));
        using var serverOnly = Signed(r => r.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false)), now, now.AddDays(1));
        Assert.Contains("not for both TLS server and client authentication", tls.Problem(serverOnly));
    }
}
