using Distill.Models;
using Distill.Stages.Flow;

namespace Distill.Stages.Training;

/// <summary>Keeps the <see cref="TrainingPhase{T}"/>s of a stage resumable in its <see cref="TrainingStateStore"/>: the
/// end of every epoch of every phase of the <c>plan</c> is saved with the stage's figures so far (the
/// <c>figures</c> dictionary, read at each save), the samples trained, the epoch losses and the held-out curves; the
/// saved state is handed to the phase it belongs to, once. A state is of this stage's plan when its phase is one of
/// the plan's, its epoch within it, and it has <see cref="SamplesValue"/> (<see cref="Check"/>).</summary>
public sealed class StoredPhaseCheckpoints(TrainingStateStore store, IReadOnlyList<(string Name, int Epochs)> plan,
    IReadOnlyDictionary<string, double> figures, TrainingState? saved, IStageProgress progress) : IPhaseCheckpoints
{
    public const string SamplesValue = "samples", LossSeries = "epoch_loss", HeldOutPrefix = "heldout.";

    private TrainingState? _saved = saved;

    /// <summary>Why a saved state cannot continue <paramref name="plan"/>, or null.</summary>
    public static string? Check(TrainingState state, IReadOnlyList<(string Name, int Epochs)> plan)
    {
        var phase = plan.FirstOrDefault(p => p.Name == state.Phase);
        if (phase.Name is null || state.Epoch > phase.Epochs)
            return $"epoch {state.Epoch} of phase '{state.Phase}' is not in this schedule ({string.Join(", ", plan.Select(p => $"{p.Name} {p.Epochs}"))})";
        if (!state.Values.ContainsKey(SamplesValue)) return $"the state lacks '{SamplesValue}'";
        return null;
    }

    public PhaseProgress? Resume(string phase, VisionLanguageModel model, Optimization optimization)
    {
        if (_saved is not { } state || state.Phase != phase) return null;
        _saved = null;
        store.Restore(model, optimization);
        return new PhaseProgress(state.Epoch, (long)state.Values[SamplesValue],
            state.Series.TryGetValue(LossSeries, out var losses) ? losses : [],
            state.Series.Where(kv => kv.Key.StartsWith(HeldOutPrefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[HeldOutPrefix.Length..], kv => kv.Value, StringComparer.Ordinal));
    }

    public void Save(string phase, PhaseProgress progressSoFar, VisionLanguageModel model, Optimization optimization)
    {
        int before = plan.TakeWhile(p => p.Name != phase).Sum(p => p.Epochs);
        var series = new Dictionary<string, IReadOnlyList<double>>(StringComparer.Ordinal) { [LossSeries] = progressSoFar.EpochLosses };
        foreach (var (metric, values) in progressSoFar.HeldOut) series[HeldOutPrefix + metric] = values;
        var state = new TrainingState(phase, progressSoFar.Epochs, before + progressSoFar.Epochs,
            new Dictionary<string, double>(figures, StringComparer.Ordinal),
            new Dictionary<string, double> { [SamplesValue] = progressSoFar.Samples }, series);
        store.Save(state, model, optimization, progress, plan.Sum(p => p.Epochs));
    }
}
