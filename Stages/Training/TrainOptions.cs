namespace Distill.Stages.Training;

/// <summary>Optimisation settings shared by every training stage (AdamW, linear warm-up then cosine decay).</summary>
public sealed record TrainOptions(
    int Epochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    int Seed,
    double MaxGradNorm = 1.0);
