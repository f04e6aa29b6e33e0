using Distill.Models.Devices;
using Distill.Stages.Distillation;

namespace Distill.Pipeline.Configuration;

/// <summary>The validated <c>distill</c> configuration. Built only by <see cref="ConfigLoader"/>, after every key
/// passed <see cref="ConfigSchema"/>. After <see cref="Runs.RunDirectory.Create"/>, <see cref="RunDir"/> and
/// <see cref="DataSettings.Dir"/> are absolute paths.</summary>
public sealed record DistillSettings(
    string RunDir,
    int Seed,
    IReadOnlyList<string> Stages,
    int TorchThreads,
    DeviceSetting Device,
    DataSettings Data,
    ModelSettings Model,
    TeacherSettings Teacher,
    MimicSettings Mimic,
    ModSettings Mod,
    EvalSettings Eval,
    ParallelismSettings Parallelism,
    TransportSettings Transport)
{
    public bool HasStage(string stage) => Stages.Contains(stage, StringComparer.Ordinal);
}

/// <summary><c>distill.data</c>: the Shapes benchmark. <see cref="Families"/> are task names (colour, shape, ...).</summary>
public sealed record DataSettings(
    string Dir,
    int ImageSize,
    int TrainScenes,
    int ValScenes,
    int TestScenes,
    int QuestionsPerScene,
    int MinObjects,
    int MaxObjects,
    IReadOnlyList<string> Families);

/// <summary><c>distill.model.vision</c>: ViT tower. <see cref="SelectLayer"/> &lt; 0 counts from the last layer.</summary>
public sealed record VisionSettings(int PatchSize, int HiddenSize, int IntermediateSize, int Layers, int Heads, int SelectLayer);

/// <summary><c>distill.model.teacher</c> / <c>distill.model.student</c>: decoder LM sizes.</summary>
public sealed record DecoderSettings(int HiddenSize, int IntermediateSize, int Layers, int Heads, int KvHeads);

/// <summary><c>distill.model</c>.</summary>
public sealed record ModelSettings(VisionSettings Vision, DecoderSettings Teacher, DecoderSettings Student, double RopeTheta, int MaxPositions);

/// <summary><c>distill.teacher</c>: <see cref="Checkpoint"/> empty = pretrain on the training split.</summary>
public sealed record TeacherSettings(
    string Checkpoint,
    int Epochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    int TopK);

/// <summary><c>distill.mimic</c>.</summary>
public sealed record MimicSettings(
    int Epochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    double KdWeight,
    double CeWeight,
    TokenScope Scope);

/// <summary><c>distill.mod</c>: gamma-MoD conversion (DESIGN 5.4). <see cref="LatencyRepeats"/> 0 = no latency measurement.</summary>
public sealed record ModSettings(
    double SkipRatio,
    int KeepFirst,
    int KeepLast,
    double TargetFraction,
    int CalibrationSamples,
    double RoutingLossWeight,
    double RouterLearningRate,
    int Epochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    double KdWeight,
    double CeWeight,
    double PrefillThreshold,
    double DecodeThreshold,
    int LatencyRepeats,
    int LatencyThreads);

/// <summary><c>distill.eval</c>: <see cref="MaxPerFamily"/> 0 = all test samples.</summary>
public sealed record EvalSettings(int BatchSize, int MaxNewTokens, int MaxPerFamily);

/// <summary><c>distill.parallelism</c>.</summary>
public sealed record ParallelismSettings(int Loaders, int TeacherWorkers, int CreditWindow, int ShardSize);

/// <summary><c>distill.transport</c>.</summary>
public sealed record TransportSettings(long MaxBatchBytes);
