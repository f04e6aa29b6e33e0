using System.Text;

namespace Distill.Stages.Text.Unicode;

/// <summary>Unicode canonical normalization, NFC and NFD (UAX #15), on the data of
/// <see cref="UnicodeNormalizationData"/>. .NET's <see cref="string.Normalize()"/> returns its input unchanged under
/// InvariantGlobalization (which this project sets), so the tokenizer normalizers use this instead.</summary>
public static class CanonicalNormalization
{
    private const int SBase = 0xAC00, LBase = 0x1100, VBase = 0x1161, TBase = 0x11A7;
    private const int LCount = 19, VCount = 21, TCount = 28, NCount = VCount * TCount, SCount = LCount * NCount;

    private static readonly Dictionary<int, int[]> Decompositions = ReadDecompositions();
    private static readonly Dictionary<int, int> Classes = ReadClasses();
    private static readonly Dictionary<long, int> Compositions = ReadCompositions();

    /// <summary>Canonical decomposition followed by canonical composition.</summary>
    public static string Nfc(string text) => IsStable(text) ? text : Encode(Compose(Decompose(text)));

    /// <summary>Canonical decomposition, combining marks in canonical order.</summary>
    public static string Nfd(string text) => IsStable(text) ? text : Encode(Decompose(text));

    /// <summary>Text below U+0300 is the same in every canonical form (no mark, no composite to split).</summary>
    private static bool IsStable(string text)
    {
        foreach (char c in text)
            if (c >= '\u0300') return false;
        return true;
    }

    private static int CombiningClass(int cp) => Classes.TryGetValue(cp, out int c) ? c : 0;

    private static List<int> Decompose(string text)
    {
        var cps = new List<int>(text.Length);
        foreach (var rune in text.EnumerateRunes()) Append(cps, rune.Value);
        // Canonical ordering: a stable sort of every run of non-starters by combining class.
        for (int i = 1; i < cps.Count; i++)
        {
            int cc = CombiningClass(cps[i]);
            if (cc == 0) continue;
            for (int j = i; j > 0; j--)
            {
                int before = CombiningClass(cps[j - 1]);
                if (before <= cc) break;
                (cps[j - 1], cps[j]) = (cps[j], cps[j - 1]);
            }
        }
        return cps;
    }

    private static void Append(List<int> cps, int cp)
    {
        if (cp >= SBase && cp < SBase + SCount)
        {
            int s = cp - SBase;
            cps.Add(LBase + s / NCount);
            cps.Add(VBase + s % NCount / TCount);
            if (s % TCount != 0) cps.Add(TBase + s % TCount);
        }
        else if (Decompositions.TryGetValue(cp, out var parts))
            foreach (int part in parts) Append(cps, part);
        else
            cps.Add(cp);
    }

    private static List<int> Compose(List<int> cps)
    {
        var result = new List<int>(cps.Count);
        int starter = -1, lastClass = 0;
        foreach (int cp in cps)
        {
            int cc = CombiningClass(cp);
            bool reachable = starter >= 0 && (result.Count - 1 == starter || lastClass < cc);
            if (reachable && TryCompose(result[starter], cp, out int composite))
            {
                result[starter] = composite;
                continue;
            }
            if (cc == 0) starter = result.Count;
            lastClass = cc;
            result.Add(cp);
        }
        return result;
    }

    private static bool TryCompose(int first, int second, out int composite)
    {
        if (first >= LBase && first < LBase + LCount && second >= VBase && second < VBase + VCount)
        {
            composite = SBase + ((first - LBase) * VCount + (second - VBase)) * TCount;
            return true;
        }
        if (first >= SBase && first < SBase + SCount && (first - SBase) % TCount == 0
            && second > TBase && second < TBase + TCount)
        {
            composite = first + (second - TBase);
            return true;
        }
        return Compositions.TryGetValue(((long)first << 21) | (uint)second, out composite);
    }

    private static string Encode(List<int> cps)
    {
        var sb = new StringBuilder(cps.Count);
        foreach (int cp in cps) sb.Append(char.ConvertFromUtf32(cp));
        return sb.ToString();
    }

    private static Dictionary<int, int[]> ReadDecompositions()
    {
        var data = UnicodeNormalizationData.Decompositions;
        var map = new Dictionary<int, int[]>();
        for (int i = 0; i < data.Length; i += 2 + data[i + 1])
            map[data[i]] = data.Slice(i + 2, data[i + 1]).ToArray();
        return map;
    }

    private static Dictionary<int, int> ReadClasses()
    {
        var data = UnicodeNormalizationData.CombiningClasses;
        var map = new Dictionary<int, int>(data.Length / 2);
        for (int i = 0; i < data.Length; i += 2) map[data[i]] = data[i + 1];
        return map;
    }

    private static Dictionary<long, int> ReadCompositions()
    {
        var data = UnicodeNormalizationData.Compositions;
        var map = new Dictionary<long, int>(data.Length / 3);
        for (int i = 0; i < data.Length; i += 3) map[((long)data[i] << 21) | (uint)data[i + 1]] = data[i + 2];
        return map;
    }
}
