namespace Distill.Stages.Training;

/// <summary>What one training phase did: epochs and optimiser steps, the mean training loss of every epoch, the
/// held-out metrics measured before training (epoch 0) and after every epoch, and the model's size at the end.</summary>
public sealed record PhaseResult(
    string Phase,
    int Epochs,
    long Steps,
    long Samples,
    IReadOnlyList<double> EpochLosses,
    IReadOnlyDictionary<string, IReadOnlyList<double>> HeldOut,
    long ParamsTotal,
    long ParamsActivated)
{
    /// <summary>Adds the outcome figures, all prefixed with the phase name: <c>epochs</c>, <c>steps</c>,
    /// <c>loss_first</c> / <c>loss_last</c> (mean training loss of the first / last epoch), per held-out metric
    /// <c>M_first</c> / <c>M_last</c> (before training / after the last epoch) and <c>M_epochN</c> (the learning
    /// curve), <c>params_total</c> and <c>params_activated</c> (per token).</summary>
    public void AddFigures(IDictionary<string, double> figures)
    {
        figures[$"{Phase}_epochs"] = Epochs;
        figures[$"{Phase}_steps"] = Steps;
        if (EpochLosses.Count > 0)
        {
            figures[$"{Phase}_loss_first"] = EpochLosses[0];
            figures[$"{Phase}_loss_last"] = EpochLosses[^1];
        }
        foreach (var (metric, values) in HeldOut)
        {
            if (values.Count == 0) continue;
            figures[$"{Phase}_{metric}_first"] = values[0];
            figures[$"{Phase}_{metric}_last"] = values[^1];
            for (int epoch = 0; epoch < values.Count; epoch++) figures[$"{Phase}_{metric}_epoch{epoch}"] = values[epoch];
        }
        figures[$"{Phase}_params_total"] = ParamsTotal;
        figures[$"{Phase}_params_activated"] = ParamsActivated;
    }
}
