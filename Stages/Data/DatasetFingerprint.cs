using System.Security.Cryptography;
using System.Text;

namespace Distill.Stages.Data;

/// <summary>sha256 (lowercase hex) of the canonical options JSON and the generator version: two datasets with the
/// same fingerprint hold the same bytes.</summary>
public static class DatasetFingerprint
{
    public static string Of(ShapesOptions options)
    {
        string canonical = Encoding.UTF8.GetString(ShapesJson.Serialize(options, indented: false)) + "\n" + ShapesGenerator.GeneratorVersion;
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical)));
    }
}
