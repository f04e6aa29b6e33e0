namespace Distill.Pipeline.Cluster;

/// <summary>A node's TLS cannot be set up: a certificate file that cannot be read or is not from the cluster's CA,
/// or generated certificates that are missing. The message names the file and the <c>distill.cluster.tls</c> key.</summary>
public sealed class ClusterTlsException(string message, Exception? inner = null) : Exception(message, inner);
