using Distill.Models;
using Distill.Stages.Training;

namespace Distill.Stages.Training;

/// <summary>What a <see cref="TrainingPhase"/> has done after some epochs: the epochs, the samples trained, the mean
/// training loss of each epoch and the held-out curves (before training, then after each epoch).</summary>
public sealed record PhaseProgress(
    int Epochs,
    long Samples,
    IReadOnlyList<double> EpochLosses,
    IReadOnlyDictionary<string, IReadOnlyList<double>> HeldOut);

/// <summary>Keeps a <see cref="TrainingPhase"/> resumable. <see cref="Resume"/> is asked once per phase, after its
/// optimiser is made: for a saved state of that phase it restores the model and the optimiser and returns what the
/// phase had done (the phase goes on with the next epoch), otherwise null (the phase starts at epoch 1).
/// <see cref="Save"/> is called at the end of every epoch, after its held-out measurement.</summary>
public interface IPhaseCheckpoints
{
    PhaseProgress? Resume(string phase, VisionLanguageModel model, Optimization optimization);

    void Save(string phase, PhaseProgress progress, VisionLanguageModel model, Optimization optimization);
}
