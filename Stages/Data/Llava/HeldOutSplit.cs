using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Distill.Stages.Data.Llava;

/// <summary>A held-out split by ratio that depends only on a sample's id: the first 8 bytes of sha256(id) as a
/// fraction of 2^64 below the ratio. The same sample is held out in every run, on every machine, whatever the order
/// or the other samples of the file (a split by file is simply another file).</summary>
public static class HeldOutSplit
{
    public static bool IsHeldOut(string id, double ratio)
    {
        if (ratio is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(ratio), ratio, "the held-out ratio must lie in 0..1");
        if (ratio == 0) return false;
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(id), hash);
        var draw = BinaryPrimitives.ReadUInt64BigEndian(hash) / 18446744073709551616.0; // / 2^64 -> [0, 1)
        return draw < ratio;
    }
}
