namespace Distill.Pipeline.Study;

/// <summary>One figure over the seeds of a study: how many runs have it, their mean, sample standard deviation
/// (n - 1; 0 for a single run), minimum and maximum, and each seed's value (NaN where that run lacks it).</summary>
public sealed record StudyStatistic(string Key, int Count, double Mean, double Std, double Min, double Max, IReadOnlyList<double> Values);

public static class StudyStatistics
{
    /// <summary>Every key of any run, in ordinal order, over the runs that have it.</summary>
    public static IReadOnlyList<StudyStatistic> Of(IReadOnlyList<IReadOnlyDictionary<string, double>> runs)
    {
        var keys = runs.SelectMany(r => r.Keys).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal);
        var stats = new List<StudyStatistic>();
        foreach (var key in keys)
        {
            var values = runs.Select(r => r.TryGetValue(key, out var v) && double.IsFinite(v) ? v : double.NaN).ToArray();
            var present = values.Where(double.IsFinite).ToArray();
            if (present.Length == 0) continue;
            var mean = present.Average();
            var std = present.Length < 2 ? 0 : Math.Sqrt(present.Sum(v => (v - mean) * (v - mean)) / (present.Length - 1));
            stats.Add(new StudyStatistic(key, present.Length, mean, std, present.Min(), present.Max(), values));
        }
        return stats;
    }

    /// <summary>The means as figures (what <see cref="Reporting.Targets"/> checks).</summary>
    public static IReadOnlyDictionary<string, double> Means(IReadOnlyList<StudyStatistic> stats) =>
        stats.ToDictionary(s => s.Key, s => s.Mean, StringComparer.Ordinal);
}
