namespace Distill.Models.Tests;

/// <summary>The bookkeeping of the full-recompute greedy references: append each active row's next token unless
/// it is eos, and return the rows that go on.</summary>
internal static class ReferenceDecoding
{
    public static List<int> Advance(IReadOnlyList<int> active, long[] next, int eos, List<int>[] tokens, List<int>[] sequences)
    {
        var still = new List<int>();
        for (var a = 0; a < active.Count; a++)
        {
            if (next[a] == eos) continue;
            tokens[active[a]].Add((int)next[a]);
            sequences[active[a]].Add((int)next[a]);
            still.Add(active[a]);
        }
        return still;
    }
}
