namespace Distill.Stages.Data;

/// <summary>SplitMix64: a tiny random source whose sequence is fixed by its seed on every platform and runtime
/// (unlike <see cref="Random"/>, whose algorithm is not a documented contract).</summary>
public sealed class DeterministicRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform integer in [0, maxExclusive).</summary>
    public int Next(int maxExclusive)
    {
        if (maxExclusive <= 0) throw new ArgumentOutOfRangeException(nameof(maxExclusive), maxExclusive, "must be > 0");
        return (int)(NextUInt64() % (ulong)maxExclusive);
    }

    /// <summary>Uniform integer in [min, maxInclusive].</summary>
    public int Next(int min, int maxInclusive) => min + Next(maxInclusive - min + 1);

    /// <summary>Uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    public T Pick<T>(IReadOnlyList<T> items) => items[Next(items.Count)];

    /// <summary>Picks item i with probability weights[i] / sum(weights).</summary>
    public T PickWeighted<T>(IReadOnlyList<T> items, IReadOnlyList<double> weights)
    {
        if (items.Count != weights.Count || items.Count == 0)
            throw new ArgumentException($"PickWeighted needs one weight per item, got {items.Count} items and {weights.Count} weights");
        double u = NextDouble() * weights.Sum();
        for (int i = 0; i < items.Count; i++)
        {
            u -= weights[i];
            if (u < 0) return items[i];
        }
        return items[^1];
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle<T>(IList<T> items)
    {
        for (int i = items.Count - 1; i > 0; i--)
        {
            int j = Next(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }

    /// <summary>A seed for an independent stream, derived from a base seed and a label (e.g. the split name).</summary>
    public static ulong Derive(long baseSeed, string label)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over the label's UTF-16 code units
        foreach (char c in label) { h ^= c; h *= 1099511628211UL; }
        return new DeterministicRandom((ulong)baseSeed ^ h).NextUInt64();
    }
}
