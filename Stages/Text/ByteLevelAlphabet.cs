namespace Distill.Stages.Text;

/// <summary>GPT-2's byte-level alphabet: every byte as one printable character (printable Latin-1 bytes as
/// themselves, the other 68 as U+0100 onwards, in byte order), so a byte-level BPE vocabulary holds no control or
/// space characters ("Ġ" is the space byte, "Ċ" the newline).</summary>
public static class ByteLevelAlphabet
{
    private static readonly char[] ByteToChar = BuildTable();
    private static readonly Dictionary<char, byte> CharToByte =
        Enumerable.Range(0, 256).ToDictionary(b => ByteToChar[b], b => (byte)b);

    /// <summary>The character that stands for <paramref name="b"/>.</summary>
    public static char Of(byte b) => ByteToChar[b];

    /// <summary>The byte a character stands for; false for characters outside the alphabet.</summary>
    public static bool TryByte(char c, out byte b) => CharToByte.TryGetValue(c, out b);

    private static char[] BuildTable()
    {
        var table = new char[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            table[b] = printable ? (char)b : (char)next++;
        }
        return table;
    }
}
