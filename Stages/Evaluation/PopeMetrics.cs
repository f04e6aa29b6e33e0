using Distill.Stages.Data;

namespace Distill.Stages.Evaluation;

/// <summary>POPE scores of one probe setting (random, popular, adversarial). "yes" is the positive class.
/// <see cref="Positives"/> / <see cref="Negatives"/>: probes whose reference is yes / no. <see cref="Unanswered"/>:
/// generations that are neither yes nor no; they count as wrong, are no positive prediction (so a positive one is a
/// false negative) and are reported here.</summary>
public sealed record PopeScore(string Setting, int Positives, int Negatives, int TruePositives, int FalsePositives, int TrueNegatives, int Unanswered)
{
    public int Total => Positives + Negatives;

    /// <summary>Positive probes answered "no" or not answered.</summary>
    public int FalseNegatives => Positives - TruePositives;

    /// <summary>(TP + TN) / all probes.</summary>
    public double Accuracy => Ratio(TruePositives + TrueNegatives, Total);

    /// <summary>TP / (TP + FP); 0 when the model never said yes.</summary>
    public double Precision => Ratio(TruePositives, TruePositives + FalsePositives);

    /// <summary>TP / positive probes.</summary>
    public double Recall => Ratio(TruePositives, Positives);

    /// <summary>Harmonic mean of precision and recall; 0 when both are 0.</summary>
    public double F1 => Precision + Recall == 0 ? 0 : 2 * Precision * Recall / (Precision + Recall);

    /// <summary>Share of probes answered "yes" (0.5 for a model that follows the balanced references).</summary>
    public double YesRatio => Ratio(TruePositives + FalsePositives, Total);

    private static double Ratio(int a, int b) => b == 0 ? 0 : (double)a / b;
}

/// <summary>POPE (Li et al. 2023) over the existence probes: yes/no answers scored per negative-sampling setting.</summary>
public static class PopeMetrics
{
    /// <summary>Setting of a probe that carries none (a dataset written before probes had settings).</summary>
    public const string UnlabelledSetting = "unlabelled";

    /// <summary>The answer a generation gives: true = yes, false = no, null = neither. The first word decides
    /// (case and punctuation ignored), so "Yes." and "no, there is not" count, "maybe" and "" do not.</summary>
    public static bool? ParseYesNo(string generated)
    {
        var first = generated.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
        if (first is null) return null;
        var word = new string(first.Where(char.IsLetter).ToArray()).ToLowerInvariant();
        return word switch { "yes" => true, "no" => false, _ => null };
    }

    /// <summary>One score per setting, in the order random, popular, adversarial, then any other setting by name.
    /// References must be "yes" or "no" (an error names the sample otherwise).</summary>
    public static IReadOnlyList<PopeScore> Compute(IEnumerable<Prediction> probes)
    {
        var bySetting = new Dictionary<string, int[]>(StringComparer.Ordinal); // P, N, TP, FP, TN, unanswered
        foreach (var p in probes)
        {
            var reference = ParseYesNo(p.Reference)
                ?? throw new ArgumentException($"existence sample '{p.SampleId}': reference '{p.Reference}' is neither yes nor no");
            var setting = p.Probe ?? UnlabelledSetting;
            if (!bySetting.TryGetValue(setting, out var c)) bySetting[setting] = c = new int[6];
            var answer = ParseYesNo(p.Generated);
            c[reference ? 0 : 1]++;
            if (answer is null) c[5]++;
            else if (answer.Value && reference) c[2]++;
            else if (answer.Value) c[3]++;
            else if (!reference) c[4]++;
        }
        return bySetting
            .OrderBy(kv => Order(kv.Key)).ThenBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => new PopeScore(kv.Key, kv.Value[0], kv.Value[1], kv.Value[2], kv.Value[3], kv.Value[4], kv.Value[5]))
            .ToList();
    }

    private static int Order(string setting)
    {
        var i = ShapesVocabulary.ProbeSettings.ToList().IndexOf(setting);
        return i < 0 ? int.MaxValue : i;
    }
}
