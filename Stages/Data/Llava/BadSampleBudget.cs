namespace Distill.Stages.Data.Llava;

/// <summary>What a data source does with bad samples: each is reported once and counted; with <see cref="Strict"/> the
/// first one stops the run; otherwise <see cref="Check"/> fails when more than <see cref="MaxBadFraction"/> of the
/// samples read were bad, naming the count.</summary>
public sealed class BadSampleBudget(double maxBadFraction = 0.01, bool strict = false, Action<BadSample>? report = null)
{
    private readonly List<BadSample> _bad = [];

    public double MaxBadFraction { get; } = maxBadFraction is >= 0 and <= 1
        ? maxBadFraction
        : throw new ArgumentOutOfRangeException(nameof(maxBadFraction), maxBadFraction, "the bad-sample fraction must lie in 0..1");

    public bool Strict { get; } = strict;

    /// <summary>The bad samples so far, in the order they were met.</summary>
    public IReadOnlyList<BadSample> Bad => _bad;

    /// <summary>Good samples counted so far.</summary>
    public int Good { get; private set; }

    public void Accept() => Good++;

    /// <summary>Reports and counts <paramref name="sample"/>; throws at once under <see cref="Strict"/>.</summary>
    public void Reject(BadSample sample)
    {
        _bad.Add(sample);
        report?.Invoke(sample);
        if (Strict) throw new BadDataException($"{sample} (distill.data.strict = true stops at the first bad sample)");
    }

    /// <summary>Throws when the bad samples exceed the allowed fraction of all samples read.</summary>
    public void Check() => Check(_bad, Good + _bad.Count, MaxBadFraction);

    /// <summary>Throws when <paramref name="bad"/> of <paramref name="total"/> samples read exceed
    /// <paramref name="maxBadFraction"/> (or every sample is bad), naming the count and the first.</summary>
    public static void Check(IReadOnlyList<BadSample> bad, int total, double maxBadFraction)
    {
        if (bad.Count == 0) return;
        if (bad.Count >= total || bad.Count > maxBadFraction * total)
            throw new BadDataException(
                $"{bad.Count} of {total} samples are bad ({100.0 * bad.Count / total:F1}%), more than distill.data.max-bad-fraction = {maxBadFraction}; the first: {bad[0]}");
    }
}
