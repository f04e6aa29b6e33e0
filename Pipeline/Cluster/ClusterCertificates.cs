using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Distill.Actors.Cluster;

namespace Distill.Pipeline.Cluster;

/// <summary>Certificates of a cluster: the CA and a node's certificate read from the paths of
/// <c>distill.cluster.tls</c>, and the throwaway ones of a run on a loopback host, under
/// <c>&lt;run&gt;/cluster/tls/</c>: <c>ca.crt</c> and <c>ca.key</c> (PEM, made by the coordinator when neither exists) and
/// <c>node-&lt;role&gt;-&lt;i&gt;.p12</c> (PKCS#12 without password, made by each node when absent, signed by that CA).
/// Keys are ECDSA P-256; key files are readable by their owner only. No file there is ever overwritten: one that cannot
/// be used is an error naming it.</summary>
public static class ClusterCertificates
{
    public const string FolderName = "tls";
    public const string AuthorityName = "ca.crt";
    public const string AuthorityKeyName = "ca.key";

    /// <summary>How long a generated certificate is valid (a node's never beyond its CA).</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(365);

    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";

    /// <summary><c>&lt;run&gt;/cluster/tls</c>.</summary>
    public static string Folder(string runRoot) => Path.Combine(runRoot, ClusterRunFiles.Folder, FolderName);

    /// <summary>The generated certificate of node <paramref name="node"/> (<c>coordinator-0</c>, <c>teacher-1</c>).</summary>
    public static string NodeFile(string runRoot, string node) => Path.Combine(Folder(runRoot), $"node-{node}.p12");

    /// <summary>A new self-signed CA (basic constraints: a CA that signs end certificates only), with its private key.</summary>
    public static X509Certificate2 CreateAuthority(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Name(commonName), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddMinutes(-5), now + Lifetime);
        return WithOwnKey(created);
    }

    /// <summary>A node certificate signed by <paramref name="authority"/> (which must hold its private key): for TLS
    /// server and client authentication, with every one of <paramref name="hosts"/> (IP addresses or DNS names) as a
    /// subject alternative name; with its private key.</summary>
    public static X509Certificate2 CreateNode(X509Certificate2 authority, string node, IEnumerable<string> hosts)
    {
        ArgumentNullException.ThrowIfNull(authority);
        if (!authority.HasPrivateKey) throw new ArgumentException($"the CA '{authority.Subject}' has no private key to sign with", nameof(authority));
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(Name($"distill node {node}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ServerAuth), new Oid(ClientAuth)], critical: false));
        var names = new SubjectAlternativeNameBuilder();
        foreach (var host in hosts.Select(h => h.Trim()).Where(h => h.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (IPAddress.TryParse(host, out var ip)) names.AddIpAddress(ip);
            else names.AddDnsName(host);
        }
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(authority, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        var now = DateTimeOffset.UtcNow;
        var notAfter = new DateTimeOffset(authority.NotAfter.ToUniversalTime()) is var limit && limit < now + Lifetime ? limit : now + Lifetime;
        using var signed = request.Create(authority, now.AddMinutes(-5), notAfter, serial);
        using var withKey = signed.CopyWithPrivateKey(key);
        return WithOwnKey(withKey);
    }

    /// <summary>The CA certificate at <paramref name="path"/> (PEM or DER); <paramref name="key"/> names the setting in errors.</summary>
    public static X509Certificate2 LoadAuthority(string path, string key = "distill.cluster.tls.ca")
    {
        try
        {
            return X509CertificateLoader.LoadCertificateFromFile(path);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException)
        {
            throw new ClusterTlsException($"{key}: {path} cannot be read as a certificate (PEM or DER): {e.Message}", e);
        }
    }

    /// <summary>A node's certificate with its private key: PKCS#12 without password at <paramref name="certificate"/>,
    /// or a PEM certificate there with its PEM private key at <paramref name="key"/>.</summary>
    public static X509Certificate2 LoadNode(string certificate, string? key)
    {
        X509Certificate2 loaded;
        try
        {
            if (key is null)
            {
                if (LooksLikePem(certificate))
                    throw new ClusterTlsException($"distill.cluster.tls.certificate: {certificate} is a PEM file: give its private key in distill.cluster.tls.key (or use PKCS#12)");
                loaded = X509CertificateLoader.LoadPkcs12FromFile(certificate, password: null);
            }
            else
            {
                using var pem = X509Certificate2.CreateFromPemFile(certificate, key);
                loaded = WithOwnKey(pem);
            }
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ClusterTlsException(key is null
                ? $"distill.cluster.tls.certificate: {certificate} cannot be read as PKCS#12 without a password: {e.Message}"
                : $"distill.cluster.tls.certificate / distill.cluster.tls.key: {certificate} with {key} cannot be read as a PEM certificate and its private key: {e.Message}", e);
        }
        if (!loaded.HasPrivateKey)
        {
            loaded.Dispose();
            throw new ClusterTlsException($"distill.cluster.tls.certificate: {certificate} holds no private key");
        }
        return loaded;
    }

    /// <summary>The TLS of node <paramref name="node"/> of a run on a loopback host: the run's throwaway CA (made first
    /// when <paramref name="makeAuthority"/>, the coordinator, and neither CA file exists) and this node's certificate
    /// from it (made when absent; its names: <paramref name="host"/>, 127.0.0.1, ::1, localhost).</summary>
    public static ClusterNodeTls ForLoopbackRun(string runRoot, string node, string host, bool makeAuthority)
    {
        var folder = Folder(runRoot);
        var caFile = Path.Combine(folder, AuthorityName);
        var caKeyFile = Path.Combine(folder, AuthorityKeyName);
        if (makeAuthority && !File.Exists(caFile) && !File.Exists(caKeyFile))
        {
            CreateFolder(folder);
            using var made = CreateAuthority($"distill run CA {Path.GetFileName(Path.TrimEndingDirectorySeparator(runRoot))}");
            using var caKey = made.GetECDsaPrivateKey()!;
            // The key first: a CA certificate without its key is never seen by a node that needs to sign.
            WriteNew(caKeyFile, caKey.ExportPkcs8PrivateKeyPem(), secret: true);
            WriteNew(caFile, made.ExportCertificatePem(), secret: false);
        }
        if (!File.Exists(caFile) || !File.Exists(caKeyFile))
        {
            throw new ClusterTlsException(makeAuthority
                ? $"{folder} has only one of {AuthorityName} and {AuthorityKeyName}: it is not a CA this run made, and it is not replaced; " +
                  "remove the folder, or give your own certificates (distill.cluster.tls.ca, distill.cluster.tls.certificate)"
                : $"{caFile} and {caKeyFile} not found: the coordinator makes the run's throwaway CA when it starts on a loopback host " +
                  "(./run.sh cluster starts it first); or give certificates (distill.cluster.tls.ca, distill.cluster.tls.certificate)");
        }

        X509Certificate2 authority;
        X509Certificate2 signer;
        try
        {
            authority = X509CertificateLoader.LoadCertificateFromFile(caFile);
            signer = X509Certificate2.CreateFromPemFile(caFile, caKeyFile);
        }
        catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new ClusterTlsException($"{caFile} with {caKeyFile}: not a CA certificate and its private key ({e.Message}); they are not replaced: remove them to get new ones", e);
        }

        using (signer)
        {
            var nodeFile = NodeFile(runRoot, node);
            if (!File.Exists(nodeFile))
            {
                using var made = CreateNode(signer, node, [host, "127.0.0.1", "::1", "localhost"]);
                WriteNew(nodeFile, made.Export(X509ContentType.Pkcs12), secret: true);
            }
            X509Certificate2 own;
            try
            {
                own = X509CertificateLoader.LoadPkcs12FromFile(nodeFile, password: null);
            }
            catch (CryptographicException e)
            {
                throw new ClusterTlsException($"{nodeFile} cannot be read as PKCS#12 without a password ({e.Message}); it is not replaced: remove it to get a new one", e);
            }
            var tls = new ClusterNodeTls(own, authority);
            var problem = own.HasPrivateKey ? tls.Problem(own) : "it holds no private key";
            if (problem is not null)
                throw new ClusterTlsException($"{nodeFile}: {problem} (CA {caFile}); it is not replaced: remove it to get a new one");
            return tls;
        }
    }

    private static X500DistinguishedName Name(string commonName)
    {
        var builder = new X500DistinguishedNameBuilder();
        builder.AddCommonName(commonName);
        return builder.Build();
    }

    /// <summary>A copy whose private key is its own (loaded from PKCS#12), so it outlives the key object it was made
    /// with and serves TLS on every platform.</summary>
    private static X509Certificate2 WithOwnKey(X509Certificate2 certificate) =>
        X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null);

    private static bool LooksLikePem(string path)
    {
        try
        {
            using var reader = new StreamReader(path);
            var buffer = new char[256];
            var read = reader.Read(buffer, 0, buffer.Length);
            return new string(buffer, 0, read).Contains("-----BEGIN", StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // the loader reports it
        }
    }

    private static void CreateFolder(string folder)
    {
        if (OperatingSystem.IsWindows()) Directory.CreateDirectory(folder);
        else Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void WriteNew(string path, string text, bool secret) => WriteNew(path, System.Text.Encoding.ASCII.GetBytes(text), secret);

    /// <summary>Writes <paramref name="bytes"/> to <paramref name="path"/> only when it does not exist (a temp file
    /// renamed without overwriting, so no reader sees half of it); <paramref name="secret"/> = readable by the owner only.
    /// When another process made it first, theirs stays.</summary>
    private static void WriteNew(string path, byte[] bytes, bool secret)
    {
        var temp = $"{path}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
            options.UnixCreateMode = secret ? UnixFileMode.UserRead | UnixFileMode.UserWrite
                : UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
        try
        {
            using (var stream = new FileStream(temp, options)) stream.Write(bytes);
            File.Move(temp, path, overwrite: false);
        }
        catch (IOException) when (File.Exists(path))
        {
            // made by another node meanwhile: that one is used
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
