using Distill.Stages.Losses;
using Distill.Stages.Students;
using Distill.Stages.Training;

namespace Distill.Stages.Distillation;

/// <summary>Mimic distillation settings (DESIGN 5.2). Loss per batch:
/// <c>KdWeight * mean_positions(Kd) + CeWeight * CE(response) + AuxWeight * aux</c>, where Kd is the divergence of
/// <see cref="Kd"/> (times T^2) over the positions of <see cref="Scope"/>, CE is on the response tokens and aux is
/// the MoE load-balancing loss (MoE phase only). <see cref="Train"/> is the optimiser of every phase (its Epochs is
/// ignored: <see cref="Schedule"/> sets each phase's epochs).</summary>
public sealed record MimicOptions(
    TrainOptions Train,
    StudentSchedule Schedule,
    KdObjective Kd,
    double KdWeight,
    double CeWeight,
    double AuxWeight,
    TokenScope Scope);
