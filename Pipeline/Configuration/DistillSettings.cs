using Distill.Models.Devices;
using Distill.Stages.Distillation;
using Distill.Stages.Losses;

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
    TorchSharp.torch.ScalarType DType,
    DataSettings Data,
    ModelSettings Model,
    TeacherSettings Teacher,
    MimicSettings Mimic,
    ModSettings Mod,
    EvalSettings Eval,
    ParallelismSettings Parallelism,
    TransportSettings Transport,
    PreferenceSettings Preference,
    ClusterSettings Cluster,
    CacheSettings Cache)
{
    public bool HasStage(string stage) => Stages.Contains(stage, StringComparer.Ordinal);
}

/// <summary><c>distill.data</c>: the Shapes benchmark (<see cref="Families"/> are task names: colour, shape, ...), or a
/// LLaVA-format dataset (<see cref="Llava"/>).</summary>
public sealed record DataSettings(
    string Dir,
    int ImageSize,
    int TrainScenes,
    int ValScenes,
    int TestScenes,
    int QuestionsPerScene,
    int MinObjects,
    int MaxObjects,
    IReadOnlyList<string> Families,
    int ExistenceWeight,
    int LabelledImages)
{
    /// <summary>A user's LLaVA-format dataset (<c>distill.data.train</c> and the keys after it); null = Shapes.</summary>
    public LlavaDataSettings? Llava { get; init; }
}

/// <summary><c>distill.data</c> for a LLaVA-format dataset (<see cref="Distill.Stages.Workspace.LlavaDataOptions"/>):
/// paths absolute, empty ones null.</summary>
public sealed record LlavaDataSettings(
    string Train, string? ImageFolder, string? HeldOut, double HeldOutRatio, string? Test, string? Pope, string? Chair,
    string? ChairVocabulary, string CaptionPrompt, string ChatTemplate, string ImageAspect, int MaxLength, bool SkipLongSamples,
    double MaxBadFraction, bool Strict);

/// <summary><c>distill.model.vision</c>: ViT tower. <see cref="SelectLayer"/> &lt; 0 counts from the last layer.</summary>
public sealed record VisionSettings(int PatchSize, int HiddenSize, int IntermediateSize, int Layers, int Heads, int SelectLayer);

/// <summary><c>distill.model.teacher</c> / <c>distill.model.student</c>: decoder LM sizes.</summary>
public sealed record DecoderSettings(int HiddenSize, int IntermediateSize, int Layers, int Heads, int KvHeads);

/// <summary><c>distill.model</c>.</summary>
/// <param name="StudentInit">HF directory the student's language model starts from; empty = fresh.</param>
/// <param name="StudentVisionInit">LLaVA directory of the student's vision tower; empty = the teacher's.</param>
public sealed record ModelSettings(VisionSettings Vision, DecoderSettings Teacher, DecoderSettings Student, double RopeTheta, int MaxPositions,
    StudentMoeSettings StudentMoe, string StudentInit = "", string StudentVisionInit = "");

/// <summary><c>distill.model.student.moe</c>: sparse upcycling of the student after D2D (and of the SFT baseline at
/// the same point). <see cref="Layers"/> null = every other layer (0, 2, 4, ...).</summary>
public sealed record StudentMoeSettings(bool Enabled, int Experts, int TopK, IReadOnlyList<int>? Layers,
    double TrainCapacityFactor, double EvalCapacityFactor);

/// <summary><c>distill.teacher</c>: <see cref="Checkpoint"/> empty = pretrain on the training split.</summary>
public sealed record TeacherSettings(
    string Checkpoint,
    string Store,
    int Epochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    int TopK);

/// <summary><c>distill.mimic</c>; its budget (epochs per phase, optimiser) is also the <c>sft</c> baseline's.</summary>
public sealed record MimicSettings(
    int ProjectorWarmupEpochs,
    int D2dEpochs,
    int D2sEpochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    double KdWeight,
    double CeWeight,
    TokenScope Scope,
    Divergence Loss,
    double JsdBeta,
    double Temperature,
    double AuxWeight,
    bool TeacherGeneratedResponses);

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
public sealed record EvalSettings(int BatchSize, int MaxNewTokens, int MaxPerFamily)
{
    /// <summary>Test prompts the speed of each model is measured on; 0 = no speed measurement.</summary>
    public int SpeedPrompts { get; init; } = 8;

    /// <summary>Timed rounds of the speed measurement (after one warm-up round).</summary>
    public int SpeedRepeats { get; init; } = 3;
}

/// <summary><c>distill.parallelism</c>.</summary>
public sealed record ParallelismSettings(int Loaders, int TeacherWorkers, int CreditWindow, int ShardSize);

/// <summary><c>distill.transport</c>.</summary>
public sealed record TransportSettings(long MaxBatchBytes);

/// <summary><c>distill.preference</c>: <see cref="Sources"/> are <c>dataset</c>, <c>student-sampled</c>,
/// <c>hallucination</c>; <see cref="DatasetFile"/> empty = none.</summary>
public sealed record PreferenceSettings(
    PreferenceLossKind Loss,
    double Beta,
    double SftWeight,
    int Epochs,
    int BatchSize,
    double LearningRate,
    double WeightDecay,
    int WarmupSteps,
    IReadOnlyList<string> Sources,
    string DatasetFile,
    int Prompts,
    int HeldOutPrompts,
    int SamplesPerPrompt,
    double Temperature,
    double TopP,
    int MaxNewTokens)
{
    public bool Uses(string source) => Sources.Contains(source, StringComparer.Ordinal);
}

/// <summary><c>distill.cluster</c>: the Akka cluster of <c>./run.sh cluster</c> and <c>distill node</c>. The coordinator
/// node (supervisor, stage coordinators, trainer, compute stages) listens on <see cref="Host"/>:<see cref="CoordinatorPort"/>
/// and is the seed; each teacher node runs <see cref="TeacherLoaders"/> loaders and <see cref="TeacherWorkers"/>
/// teacher workers per distillation stage. <see cref="Seed"/> empty = teacher nodes get it from <c>--seed</c>.</summary>
public sealed record ClusterSettings(
    string Host,
    string Seed,
    int CoordinatorPort,
    int CreditWindow,
    int TeacherBasePort,
    int TeacherLoaders,
    int TeacherWorkers,
    TimeSpan TeacherWait,
    TimeSpan JoinTimeout,
    TimeSpan HeartbeatPause,
    TimeSpan DownAfter);

/// <summary><c>distill.cache</c>: the teacher-output cache. <see cref="Dir"/> empty = <c>&lt;run-dir&gt;/cache</c>
/// (absolute after <see cref="Runs.RunDirectory.Create"/> when set).</summary>
public sealed record CacheSettings(string Dir, Distill.Stages.Cache.CacheMode Mode, bool StrictOrder);
