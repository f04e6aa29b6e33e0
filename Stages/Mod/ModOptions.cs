using Distill.Stages.Losses;
using Distill.Models.Config;
using Distill.Stages.Distillation;
using Distill.Stages.Training;

namespace Distill.Stages.Mod;

/// <summary>gamma-MoD conversion settings (<c>distill.mod</c>, DESIGN 5.4).</summary>
/// <param name="Train">epochs, batch size, learning rate, ... of the masked routing learning.</param>
/// <param name="SkipRatio">share of a row's image tokens that skip each MoD layer in training (masked top-k).</param>
/// <param name="KeepFirst">the first layers that are never converted.</param>
/// <param name="KeepLast">the last layers that are never converted.</param>
/// <param name="TargetFraction">at most this share of the decoder's layers is converted.</param>
/// <param name="CalibrationSamples">training samples whose prefill attention maps give the ARank.</param>
/// <param name="RoutingLossWeight">coefficient of the routing loss (summed over MoD layers).</param>
/// <param name="RouterLearningRate">peak learning rate of the shared router (fresh weights that must become confident
/// within a short fine-tune); it follows the same warm-up and cosine schedule as <see cref="TrainOptions.LearningRate"/>.</param>
/// <param name="KdWeight">weight of the sparse KL to the teacher's cached top-K.</param>
/// <param name="CeWeight">weight of the response cross-entropy.</param>
/// <param name="PrefillThreshold">inference: an image token is processed when p &gt; this.</param>
/// <param name="DecodeThreshold">inference: a generated token is processed when p &gt;= this.</param>
/// <param name="Scope">token scope of the teacher batches (the mimic stage's, so its cached batches replay).</param>
public sealed record ModOptions(
    TrainOptions Train,
    double SkipRatio,
    int KeepFirst,
    int KeepLast,
    double TargetFraction,
    int CalibrationSamples,
    double RoutingLossWeight,
    double RouterLearningRate,
    double KdWeight,
    double CeWeight,
    double PrefillThreshold,
    double DecodeThreshold,
    TokenScope Scope)
{
    /// <summary>The MoD configuration of the converted model for the chosen layers.</summary>
    public ModConfig ConfigFor(IReadOnlyList<int> layers) =>
        new([.. layers], SkipRatio, PrefillThreshold, DecodeThreshold, RoutingLossWeight);

    /// <summary>The loss weights in the form <see cref="MimicLoss"/> takes.</summary>
    public MimicOptions Mimic => new(Train, new Students.StudentSchedule(0, Train.Epochs, 0, null), KdObjective.ForwardKl,
        KdWeight, CeWeight, AuxWeight: 0, Scope);
}

/// <summary>How the stage measures its outcome after training.</summary>
/// <param name="PromptBatch">test prompts per prefill batch (latency and the share of image tokens kept).</param>
/// <param name="LatencyRepeats">timed prefill repeats of each model after one warm-up (median reported); 0 = no
/// latency measurement.</param>
/// <param name="LatencyThreads">torch threads while the latency is measured (the process setting is restored after);
/// 0 = the process setting.</param>
public sealed record ModMeasureOptions(int PromptBatch, int LatencyRepeats, int LatencyThreads = 0);
