namespace Distill.Stages.Preference;

/// <summary>How a policy ranks a set of pairs against the reference: the mean reward margin
/// <c>beta ((log pi(y_w) - ref_w) - (log pi(y_l) - ref_l))</c> (DPO's implicit rewards), the preference accuracy
/// (share of pairs with r_w &gt; r_l) and the mean loss; NaN for no pairs.</summary>
public sealed record PreferenceMetrics(int Pairs, double Margin, double Accuracy, double Loss, double ChosenNll = double.NaN)
{
    /// <param name="margins">beta-scaled margin per pair.</param>
    /// <param name="lossSum">the loss summed over pairs (batch mean times batch size).</param>
    /// <param name="chosenNllSum">the chosen responses' per-token NLL summed over pairs (NaN: not measured).</param>
    public static PreferenceMetrics From(IReadOnlyList<double> margins, double lossSum, double chosenNllSum = double.NaN) => margins.Count == 0
        ? new PreferenceMetrics(0, double.NaN, double.NaN, double.NaN)
        : new PreferenceMetrics(margins.Count, margins.Average(), margins.Count(m => m > 0) / (double)margins.Count,
            lossSum / margins.Count, chosenNllSum / margins.Count);
}
