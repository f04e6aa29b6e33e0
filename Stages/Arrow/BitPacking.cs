namespace Distill.Stages.Arrow;

/// <summary>Fixed-width unsigned fields in a byte buffer, least significant bit first: field bit <c>b</c> of a value
/// written at bit offset <c>o</c> is stream bit <c>o + b</c>, and stream bit <c>n</c> is bit <c>n % 8</c> (1 &lt;&lt;
/// (n % 8)) of byte <c>n / 8</c>. So 17-bit ids laid end to end put id 0 in bits 0..16, id 1 in bits 17..33, and so on;
/// unused high bits of the last byte are 0. This is the order of Arrow's own validity bitmaps and of
/// <c>numpy.unpackbits(..., bitorder="little")</c>.</summary>
internal static class BitPacking
{
    /// <summary>Most bits of one field (values up to 2^31 - 1 fit).</summary>
    public const int MaxBits = 31;

    /// <summary>Bytes that hold <paramref name="count"/> fields of <paramref name="bits"/> bits.</summary>
    public static int Bytes(int count, int bits) => checked((int)(((long)count * bits + 7) / 8));

    /// <summary>Writes the low <paramref name="bits"/> bits of <paramref name="value"/> at <paramref name="bitOffset"/>;
    /// the destination bits must be 0 (a fresh buffer).</summary>
    public static void Write(Span<byte> buffer, long bitOffset, uint value, int bits)
    {
        for (int done = 0; done < bits;)
        {
            long bit = bitOffset + done;
            int shift = (int)(bit & 7), take = Math.Min(8 - shift, bits - done);
            uint part = (value >> done) & ((1u << take) - 1);
            buffer[(int)(bit >> 3)] |= (byte)(part << shift);
            done += take;
        }
    }

    /// <summary>The <paramref name="bits"/>-bit field at <paramref name="bitOffset"/>.</summary>
    public static uint Read(ReadOnlySpan<byte> buffer, long bitOffset, int bits)
    {
        uint value = 0;
        for (int done = 0; done < bits;)
        {
            long bit = bitOffset + done;
            int shift = (int)(bit & 7), take = Math.Min(8 - shift, bits - done);
            uint part = (uint)(buffer[(int)(bit >> 3)] >> shift) & ((1u << take) - 1);
            value |= part << done;
            done += take;
        }
        return value;
    }

    /// <summary>The fewest bits that hold every value in 0..<paramref name="distinct"/>-1 (at least 1).</summary>
    public static int BitsFor(int distinct)
    {
        if (distinct < 1) throw new ArgumentOutOfRangeException(nameof(distinct), distinct, "needs at least one value");
        int bits = 1;
        while (bits < MaxBits && (1L << bits) < distinct) bits++;
        return bits;
    }
}
