using Distill.Stages.Losses;
using Distill.Stages.Training;

namespace Distill.Stages.Preference;

/// <summary>Preference training settings (DESIGN 5.3): the loss, its beta, and the optimiser of the student.</summary>
public sealed record PreferenceOptions(TrainOptions Train, PreferenceLossKind Loss, double Beta);
