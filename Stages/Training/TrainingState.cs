namespace Distill.Stages.Training;

/// <summary>Where a student's training stands at the end of an epoch, and what its step needs to go on exactly as if it
/// had not stopped; saved together with the model and the optimiser by <see cref="TrainingStateStore"/>. The shuffle
/// of every epoch is seeded by the epoch number, so <see cref="Epoch"/> is also the position in the shuffles.</summary>
/// <param name="Phase">the phase the epoch belongs to (<c>train</c> for a one-phase stage; <c>warmup</c>, <c>d2d</c>,
/// <c>d2s</c>, ... for a student curriculum).</param>
/// <param name="Epoch">epochs of <paramref name="Phase"/> completed (1 = its first epoch is done).</param>
/// <param name="StageEpoch">epochs of the whole stage completed, counted over its phases in order.</param>
/// <param name="Figures">the stage's outcome figures so far; the resumed stage starts from them.</param>
/// <param name="Values">numbers the step keeps to continue, under its own names (samples trained, first loss, ...).</param>
/// <param name="Series">per-epoch series the step keeps (epoch losses, held-out curves), under its own names.</param>
public sealed record TrainingState(
    string Phase,
    int Epoch,
    int StageEpoch,
    IReadOnlyDictionary<string, double> Figures,
    IReadOnlyDictionary<string, double> Values,
    IReadOnlyDictionary<string, IReadOnlyList<double>> Series)
{
    /// <summary>The outcome figure of a resumed stage: <see cref="StageEpoch"/> of the state it continued from.</summary>
    public const string ResumedFigure = "resumed_from_epoch";

    /// <summary>Progress phase reported when a stage continues from a saved state (step = <see cref="StageEpoch"/>).</summary>
    public const string ResumedPhase = "resumed";

    /// <summary>Progress phase reported after each save (step = <see cref="StageEpoch"/>).</summary>
    public const string SavedPhase = "state-saved";

    /// <summary>A state with no figures, values or series.</summary>
    public static TrainingState At(string phase, int epoch, int stageEpoch) =>
        new(phase, epoch, stageEpoch, new Dictionary<string, double>(), new Dictionary<string, double>(),
            new Dictionary<string, IReadOnlyList<double>>());
}
