using Distill.Stages.Losses;
using Distill.Stages.Training;

namespace Distill.Stages.Preference;

/// <summary>Preference training settings (DESIGN 5.3): the loss, its beta, the weight of the chosen responses' own
/// likelihood term, and the optimiser of the student.</summary>
/// <param name="SftWeight">Coefficient of the chosen responses' mean per-token negative log-likelihood added to the
/// preference loss (the NLL term of RPO, Pang et al. 2024); 0 = the preference loss alone. It keeps DPO from lowering
/// the likelihood of the chosen response together with the rejected one.</param>
public sealed record PreferenceOptions(TrainOptions Train, PreferenceLossKind Loss, double Beta, double SftWeight = 0.0);
