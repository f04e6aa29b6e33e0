using System.Security.Cryptography;
using System.Text;

namespace Distill.Stages.Training;

/// <summary>Short content hashes that decide whether earlier work can be reused.</summary>
public static class Fingerprint
{
    /// <summary>sha256 over the parts (each rendered with ToString, joined by newlines), first 16 hex digits.</summary>
    public static string Of(params object?[] parts)
    {
        string text = string.Join("\n", parts.Select(p => p?.ToString() ?? "null"));
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16].ToLowerInvariant();
    }
}
