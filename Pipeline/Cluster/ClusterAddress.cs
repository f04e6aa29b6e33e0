using Akka.Actor;
using Distill.Actors.Cluster;

namespace Distill.Pipeline.Cluster;

/// <summary>Addresses of Distill cluster nodes: <c>akka.ssl.tcp://distill@HOST:PORT</c> with TLS (the default),
/// <c>akka.tcp://distill@HOST:PORT</c> with <c>distill.cluster.insecure = true</c> (Akka.Remote names the transport's
/// TLS in the protocol).</summary>
public static class ClusterAddress
{
    public const string TlsProtocol = "akka.ssl.tcp";
    public const string PlainProtocol = "akka.tcp";

    /// <summary>The address of a node on <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static string Of(string host, int port, bool tls = true) =>
        $"{(tls ? TlsProtocol : PlainProtocol)}://{ClusterNodeConfig.SystemName}@{host}:{port}";

    /// <summary>Null when <paramref name="text"/> is a Distill node's address (of a TLS cluster when
    /// <paramref name="tls"/> is true, of a plain one when false, either when null), else what is wrong with it.</summary>
    public static string? Check(string text, bool? tls = null)
    {
        Address address;
        try
        {
            address = Address.Parse(text);
        }
        catch (Exception e) when (e is UriFormatException or ArgumentException or FormatException)
        {
            return $"'{text}' is not an address like {Of("HOST", 4053)} ({e.Message})";
        }
        if (address.Protocol is not (TlsProtocol or PlainProtocol))
            return $"'{text}' uses protocol '{address.Protocol}', expected {TlsProtocol} (TLS) or {PlainProtocol} (distill.cluster.insecure = true)";
        if (address.System != ClusterNodeConfig.SystemName)
            return $"'{text}' names actor system '{address.System}', expected '{ClusterNodeConfig.SystemName}' ({Of("HOST", 4053)})";
        if (string.IsNullOrEmpty(address.Host) || address.Port is not (> 0 and <= 65535))
            return $"'{text}' needs a host and a port in 1..65535 ({Of("HOST", 4053)})";
        if (tls == true && address.Protocol == PlainProtocol)
            return $"'{text}' is a plain-TCP address ({PlainProtocol}) but this cluster uses TLS, where nodes are {TlsProtocol}://...; " +
                   "without TLS every node needs distill.cluster.insecure = true";
        if (tls == false && address.Protocol == TlsProtocol)
            return $"'{text}' is a TLS address ({TlsProtocol}) but distill.cluster.insecure = true turns TLS off, where nodes are {PlainProtocol}://...";
        return null;
    }

    /// <summary>The parsed address; throws <see cref="ArgumentException"/> with <see cref="Check"/>'s message.</summary>
    public static Address Parse(string text, bool? tls = null) =>
        Check(text, tls) is { } problem ? throw new ArgumentException(problem, nameof(text)) : Address.Parse(text);
}
