namespace Distill.Stages.Mod;

/// <summary>gamma-MoD layer selection (DESIGN 5.4 step 2): the layers with the lowest ARank are converted first; the
/// first <c>keep-first</c> and the last <c>keep-last</c> layers never are; at most floor(target fraction * layers)
/// layers are converted. Ties in ARank go to the lower layer index.</summary>
public static class ModLayerSelection
{
    /// <summary>Configuration keys named in the errors of an impossible plan.</summary>
    public const string KeepFirstKey = "distill.mod.keep-first";
    public const string KeepLastKey = "distill.mod.keep-last";
    public const string TargetFractionKey = "distill.mod.target-fraction";

    /// <summary>The plan for a decoder whose layer i has ARank <paramref name="aRank"/>[i]. Throws
    /// <see cref="ArgumentException"/> naming the keys when no layer can be converted: keep-first + keep-last cover
    /// every layer, or the target fraction asks for less than one layer.</summary>
    public static ModPlan Select(IReadOnlyList<double> aRank, int keepFirst, int keepLast, double targetFraction)
    {
        int layers = aRank.Count;
        if (layers == 0) throw new ArgumentException("a MoD plan needs at least one decoder layer.");
        if (keepFirst < 0) throw new ArgumentException($"{KeepFirstKey} ({keepFirst}) must not be negative.");
        if (keepLast < 0) throw new ArgumentException($"{KeepLastKey} ({keepLast}) must not be negative.");
        if (targetFraction is <= 0 or > 1 || double.IsNaN(targetFraction))
            throw new ArgumentException($"{TargetFractionKey} ({targetFraction}) must be in (0, 1].");
        if (aRank.Any(a => double.IsNaN(a) || a < 0))
            throw new ArgumentException($"ARank values must be non-negative numbers: [{string.Join(", ", aRank)}].");

        int eligibleCount = Math.Max(0, layers - keepFirst - keepLast);
        if (eligibleCount == 0)
            throw new ArgumentException(
                $"{KeepFirstKey} ({keepFirst}) + {KeepLastKey} ({keepLast}) keep all {layers} decoder layer(s) of the student dense: " +
                $"no layer is left to convert; lower them (their sum must be below {layers}) or use a deeper student (distill.model.student.layers).");
        // The tolerance keeps e.g. 0.3 * 10 = 2.9999999999999996 at 3.
        int wanted = (int)Math.Floor(targetFraction * layers + 1e-9);
        if (wanted == 0)
            throw new ArgumentException(
                $"{TargetFractionKey} ({targetFraction}) of {layers} decoder layer(s) is less than one layer: nothing would be converted; " +
                $"raise it to at least {1.0 / layers:0.###}.");

        var eligible = Enumerable.Range(keepFirst, eligibleCount).ToArray();
        var chosen = eligible
            .OrderBy(i => aRank[i])
            .ThenBy(i => i)
            .Take(wanted)
            .Order()
            .ToArray();
        var table = Enumerable.Range(0, layers)
            .Select(i => new ModPlanLayer(i, aRank[i], i >= keepFirst && i < layers - keepLast, chosen.Contains(i)))
            .ToList();
        return new ModPlan(table, keepFirst, keepLast, targetFraction, wanted, chosen);
    }
}
