using Akka.Actor;
using Distill.Actors.Cluster;

namespace Distill.Pipeline.Cluster;

/// <summary>Addresses of Distill cluster nodes: <c>akka.tcp://distill@HOST:PORT</c>.</summary>
public static class ClusterAddress
{
    public const string Protocol = "akka.tcp";

    /// <summary>The address of a node on <paramref name="host"/>:<paramref name="port"/>.</summary>
    public static string Of(string host, int port) => $"{Protocol}://{ClusterNodeConfig.SystemName}@{host}:{port}";

    /// <summary>Null when <paramref name="text"/> is a Distill node's address, else what is wrong with it.</summary>
    public static string? Check(string text)
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
        if (address.Protocol != Protocol)
            return $"'{text}' uses protocol '{address.Protocol}', expected {Protocol} ({Of("HOST", 4053)})";
        if (address.System != ClusterNodeConfig.SystemName)
            return $"'{text}' names actor system '{address.System}', expected '{ClusterNodeConfig.SystemName}' ({Of("HOST", 4053)})";
        if (string.IsNullOrEmpty(address.Host) || address.Port is not (> 0 and <= 65535))
            return $"'{text}' needs a host and a port in 1..65535 ({Of("HOST", 4053)})";
        return null;
    }

    /// <summary>The parsed address; throws <see cref="ArgumentException"/> with <see cref="Check"/>'s message.</summary>
    public static Address Parse(string text) =>
        Check(text) is { } problem ? throw new ArgumentException(problem, nameof(text)) : Address.Parse(text);
}
