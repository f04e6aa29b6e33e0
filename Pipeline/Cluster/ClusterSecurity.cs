using System.Net;
using Distill.Actors.Cluster;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Cluster;

/// <summary>How a node secures its cluster transport (<c>distill.cluster.tls</c>, <c>distill.cluster.insecure</c>):
/// TLS with the certificates given by path; on a loopback host without them, TLS with the run's throwaway
/// certificates (<see cref="ClusterCertificates.ForLoopbackRun"/>); plain TCP only with <c>insecure = true</c>, with
/// <see cref="InsecureWarning"/>. The configuration check (<see cref="ConfigSchema"/>) has already refused a
/// non-loopback host with neither certificates nor <c>insecure</c>.</summary>
public static class ClusterSecurity
{
    /// <summary>127.0.0.0/8, ::1 or <c>localhost</c>: reachable from this machine only. A name is not resolved: any
    /// other name counts as reachable from elsewhere.</summary>
    public static bool IsLoopback(string host)
    {
        var h = host.Trim();
        if (h.StartsWith('[') && h.EndsWith(']')) h = h[1..^1];
        return h.Equals("localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(h, out var ip) && IPAddress.IsLoopback(ip));
    }

    /// <summary>What a node prints on stderr (and logs) when it runs without TLS.</summary>
    public static string InsecureWarning(ClusterSettings c) =>
        $"distill: WARNING: distill.cluster.insecure = true: the cluster transport on {c.Host} has no TLS; any process that can " +
        "reach this node's port can join the cluster and send to its actors, and everything travels unencrypted";

    /// <summary>The TLS of node <paramref name="node"/> (<c>coordinator-0</c>, <c>teacher-1</c>); null = plain TCP
    /// (<c>insecure = true</c>). <paramref name="runRoot"/>: the run directory, where a loopback run's throwaway
    /// certificates are (null: none known); <paramref name="makeAuthority"/>: this node may make the run's CA (the
    /// coordinator). Throws <see cref="ClusterTlsException"/> naming the file and key when the certificates cannot be
    /// used.</summary>
    public static ClusterNodeTls? Resolve(ClusterSettings c, string? runRoot, string node, bool makeAuthority)
    {
        ArgumentNullException.ThrowIfNull(c);
        if (c.Insecure) return null;
        if (c.Tls.Certificate is { } certificate)
        {
            var caPath = c.Tls.Ca ?? throw new ClusterTlsException("distill.cluster.tls.certificate needs distill.cluster.tls.ca, the CA that signed every node's certificate");
            var authority = ClusterCertificates.LoadAuthority(caPath);
            var own = ClusterCertificates.LoadNode(certificate, c.Tls.Key);
            var tls = new ClusterNodeTls(own, authority);
            if (tls.Problem(own) is { } problem)
                throw new ClusterTlsException($"distill.cluster.tls.certificate: {certificate}: {problem} (distill.cluster.tls.ca {caPath}); the other nodes would refuse it");
            return tls;
        }
        if (!IsLoopback(c.Host))
            throw new ClusterTlsException($"distill.cluster.host '{c.Host}' is not a loopback address: it needs distill.cluster.tls.ca and distill.cluster.tls.certificate (or distill.cluster.insecure = true)");
        if (runRoot is null)
            throw new ClusterTlsException("on a loopback host without distill.cluster.tls.certificate a node uses the run's throwaway certificates " +
                                          $"in <run>/{ClusterRunFiles.Folder}/{ClusterCertificates.FolderName}/: give --run (or the certificates, or distill.cluster.insecure = true)");
        return ClusterCertificates.ForLoopbackRun(runRoot, node, c.Host, makeAuthority);
    }
}
