using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Akka.Event;
using Akka.Remote.Transport.DotNetty;

namespace Distill.Actors.Cluster;

/// <summary>Mutually authenticated TLS of a cluster node on Akka.Remote's DotNetty transport: the node presents
/// <see cref="Certificate"/> (with its private key) on every connection it accepts or opens, and accepts a peer only
/// when the peer's certificate chains to <see cref="Authority"/>, the run's CA, not to the machine's trust store.
/// <para>Who enforces what (Akka.Remote 1.5.74): with <c>requireMutualAuthentication</c> the transport's server side asks
/// every client for a certificate and refuses a connection that brings none; its client side always presents
/// <see cref="Certificate"/>. Both sides hand the peer's certificate to <see cref="Validate"/>, this record's validator,
/// which replaces the transport's own check (that one trusts the machine's CA store, where the run's CA is not): the
/// chain is built again with the run's CA as the only trust anchor. Host names are not compared (per-node
/// certificates, IP addresses): membership of the cluster is having a certificate from its CA.</para></summary>
public sealed record ClusterNodeTls(X509Certificate2 Certificate, X509Certificate2 Authority)
{
    /// <summary>Start of the warning logged for every refused peer (then the peer and why).</summary>
    public const string RefusedPrefix = "TLS: refused the peer";

    /// <summary>Server and client authentication: a node is both on every connection's two ends.</summary>
    private static readonly string[] NodeUsages = ["1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2"];

    /// <summary>The setup that gives the ActorSystem's DotNetty transport this TLS (with <c>enable-ssl = on</c> in its
    /// HOCON, <see cref="ClusterNodeConfig.Build"/>).</summary>
    public DotNettySslSetup Setup() =>
        new(Certificate, suppressValidation: false, requireMutualAuthentication: true, validateCertificateHostname: false, Validate);

    /// <summary>The transport's validation callback: accepts <paramref name="peer"/> when <see cref="Problem"/> finds
    /// nothing wrong, else logs why at warning level and refuses it. The transport's own verdict,
    /// <paramref name="errors"/>, is not used: it judges the chain against the machine's trust store.</summary>
    private bool Validate(X509Certificate2? peer, X509Chain? chain, string remote, SslPolicyErrors errors, ILoggingAdapter log)
    {
        var problem = Problem(peer, chain);
        if (problem is null) return true;
        log.Warning("{0} {1}: {2}", RefusedPrefix, remote, problem);
        return false;
    }

    /// <summary>Null when <paramref name="peer"/> is a certificate of this cluster: it chains to <see cref="Authority"/>
    /// (intermediates from <paramref name="presented"/>, the chain the peer sent), is within its validity period as
    /// is every certificate up to the CA, and may serve for client and server authentication; else what is wrong.</summary>
    public string? Problem(X509Certificate2? peer, X509Chain? presented = null)
    {
        if (peer is null) return "it presented no certificate";
        using var chain = new X509Chain();
        var policy = chain.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.CustomTrustStore.Add(Authority);
        policy.RevocationMode = X509RevocationMode.NoCheck; // a run's CA publishes no revocation list
        policy.DisableCertificateDownloads = true;
        if (presented is not null)
            foreach (var element in presented.ChainElements)
                if (!element.Certificate.RawDataMemory.Span.SequenceEqual(peer.RawDataMemory.Span)) policy.ExtraStore.Add(element.Certificate);

        if (!chain.Build(peer))
        {
            var why = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Where(s => s.Length > 0).Distinct());
            var flags = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
            var what = flags.HasFlag(X509ChainStatusFlags.NotTimeValid)
                ? $"is outside its validity period ({peer.NotBefore.ToUniversalTime():u} to {peer.NotAfter.ToUniversalTime():u}) or its CA's"
                : $"is not signed by the cluster's CA '{Authority.Subject}'";
            return $"certificate '{peer.Subject}' (issuer '{peer.Issuer}') {what}" + (why.Length > 0 ? $" ({why})" : "");
        }
        var root = chain.ChainElements[^1].Certificate;
        if (!root.RawDataMemory.Span.SequenceEqual(Authority.RawDataMemory.Span))
            return $"certificate '{peer.Subject}' chains to '{root.Subject}', not to the cluster's CA '{Authority.Subject}'";
        if (peer.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } usage)
        {
            var allowed = usage.EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToHashSet();
            if (!NodeUsages.All(allowed.Contains))
                return $"certificate '{peer.Subject}' is not for both TLS server and client authentication (extended key usage)";
        }
        return null;
    }
}
