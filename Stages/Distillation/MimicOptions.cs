using Distill.Stages.Training;

namespace Distill.Stages.Distillation;

/// <summary>Mimic distillation settings (DESIGN 5.2): loss per predicting position is
/// <c>kd_weight * KL(p_T || p_S) + ce_weight * CE(y)</c>.</summary>
public sealed record MimicOptions(TrainOptions Train, double KdWeight, double CeWeight, TokenScope Scope);
