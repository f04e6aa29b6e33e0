using Distill.Models.Devices;
using Distill.Pipeline.Configuration.Declaration;
using Distill.Stages.Arrow;
using Distill.Stages.Cache;
using Distill.Stages.Distillation;
using Distill.Stages.Losses;
using static Distill.Pipeline.Configuration.Declaration.IntAttribute;

namespace Distill.Pipeline.Configuration;

// Every key under `distill` is declared here, once: a constructor parameter with its kind and constraints
// (Distill.Pipeline.Configuration.Declaration). Its default is in hocon/pipeline.conf, nowhere else; the schema and
// the binding are derived (SettingsTree). The order of the parameters is the order of pipeline.conf.

/// <summary>The validated <c>distill</c> configuration. Built only by <see cref="ConfigLoader"/>, after every key
/// passed <see cref="ConfigSchema"/>. After <see cref="Runs.RunDirectory.Create"/>, <see cref="RunDir"/> and
/// <see cref="DataSettings.Dir"/> are absolute paths.</summary>
public sealed record DistillSettings(
    [Text(Description = "run directory; empty = runs/<yyyyMMdd-HHmmss>-<preset>")] string RunDir,
    [Int(0, int.MaxValue)] int Seed,
    [OneOf(typeof(ConfigSchema), nameof(ConfigSchema.StageNames), List = true)] IReadOnlyList<string> Stages,
    [Int(0, 1024, Description = "0 = number of cores")] int TorchThreads,
    [OneOf(typeof(DeviceSelector), Description = "auto = cuda when available, else cpu")] DeviceSetting Device,
    [OneOf(typeof(ComputeDType), Name = "dtype", Description = "bfloat16 = half the memory; float32 master weights and float32 losses")]
    TorchSharp.torch.ScalarType DType,
    DataSettings Data,
    ModelSettings Model,
    TeacherSettings Teacher,
    MimicSettings Mimic,
    PreferenceSettings Preference,
    ModSettings Mod,
    EvalSettings Eval,
    ParallelismSettings Parallelism,
    TransportSettings Transport,
    ClusterSettings Cluster,
    CacheSettings Cache)
{
    public bool HasStage(string stage) => Stages.Contains(stage, StringComparer.Ordinal);
}

/// <summary><c>distill.data</c>: the Shapes benchmark (<see cref="Families"/> are task names: colour, shape, ...), or a
/// LLaVA-format dataset (<see cref="Llava"/>, null = Shapes).</summary>
public sealed record DataSettings(
    [Text(Description = "empty = <run-dir>/data")] string Dir,
    [Int(8, 1024)] int ImageSize,
    [Int(1, Big)] int TrainScenes,
    [Int(1, Big)] int ValScenes,
    [Int(1, Big)] int TestScenes,
    [Int(1, 64)] int QuestionsPerScene,
    [Int(1, 6)] int MinObjects,
    [Int(1, 6)] int MaxObjects,
    [OneOf(typeof(ConfigSchema), nameof(ConfigSchema.FamilyNames), List = true)] IReadOnlyList<string> Families,
    [Int(1, 16, Description = "existence probes per question of each other family")] int ExistenceWeight,
    [Int(0, Big, Description = "training images the students see labelled; 0 = all")] int LabelledImages,
    [Section(Name = "")] LlavaDataSettings? Llava);

/// <summary><c>distill.data</c> for a LLaVA-format dataset (<see cref="Distill.Stages.Workspace.LlavaDataOptions"/>):
/// paths absolute, empty ones null. Absent (null) when <see cref="Train"/> is empty.</summary>
public sealed record LlavaDataSettings(
    [Path(Description = "a LLaVA conversation file or mixture manifest; empty = the Shapes benchmark")] string Train,
    [Path(Description = "empty = the data file's folder")] string? ImageFolder,
    [Path(Description = "a file of held-out conversations; empty = held-out-ratio of train")] string? HeldOut,
    [Real(0, 1, MinExclusive = true, MaxExclusive = true)] double HeldOutRatio,
    [Path(Description = "conversations the eval answers; empty = the held-out ones")] string? Test,
    [Path(Description = "a POPE file; empty = none")] string? Pope,
    [Path(Description = "a CHAIR caption file; empty = none")] string? Chair,
    [Path(Description = "the CHAIR object vocabulary (needed with chair)")] string? ChairVocabulary,
    [Text(AllowEmpty = false)] string CaptionPrompt,
    [OneOf(typeof(ConfigSchema), nameof(ConfigSchema.ChatTemplateNames))] string ChatTemplate,
    [OneOf("pad", "keep")] string ImageAspect,
    [Int(8, 1_000_000, Description = "tokens, image tokens included")] int MaxLength,
    [OneOf("truncate", "skip")] string LongSamples,
    [Real(0, 1)] double MaxBadFraction,
    [Flag(Description = "true = the first bad sample stops the run")] bool Strict) : IOptionalSection
{
    public bool IsSet => Train.Length > 0;

    /// <summary>A sample longer than <see cref="MaxLength"/> is skipped rather than truncated.</summary>
    public bool SkipLongSamples => LongSamples == "skip";
}

/// <summary><c>distill.model.vision</c>: ViT tower. <see cref="SelectLayer"/> &lt; 0 counts from the last layer.</summary>
public sealed record VisionSettings(
    [Int(1, 256)] int PatchSize,
    [Int(1, 65536)] int HiddenSize,
    [Int(1, 262144)] int IntermediateSize,
    [Int(1, 256)] int Layers,
    [Int(1, 1024)] int Heads,
    [Int(-256, 255, Description = "negative counts from the last layer (-1 = last)")] int SelectLayer);

/// <summary><c>distill.model.teacher</c> / <c>distill.model.student</c>: decoder LM sizes.</summary>
public sealed record DecoderSettings(
    [Int(1, 65536)] int HiddenSize,
    [Int(1, 262144)] int IntermediateSize,
    [Int(1, 256)] int Layers,
    [Int(1, 1024)] int Heads,
    [Int(1, 1024)] int KvHeads);

/// <summary><c>distill.model</c>.</summary>
/// <param name="StudentInit">HF directory the student's language model starts from; empty = fresh.</param>
/// <param name="StudentVisionInit">LLaVA directory of the student's vision tower; empty = the teacher's.</param>
public sealed record ModelSettings(
    VisionSettings Vision,
    DecoderSettings Teacher,
    DecoderSettings Student,
    [Section(Name = "student.moe")] StudentMoeSettings StudentMoe,
    [Text(Name = "student.init", Description = "HF causal LM or LLaVA directory the student's LM starts from; empty = fresh")] string StudentInit,
    [Text(Name = "student.vision-init", Description = "LLaVA directory of the student's vision tower; empty = the teacher's")] string StudentVisionInit,
    [Real(0, double.PositiveInfinity, MinExclusive = true)] double RopeTheta,
    [Int(8, 1 << 20)] int MaxPositions);

/// <summary><c>distill.model.student.moe</c>: sparse upcycling of the student after D2D (and of the SFT baseline at
/// the same point). <see cref="Layers"/> null = every other layer (0, 2, 4, ...).</summary>
public sealed record StudentMoeSettings(
    [Flag(Description = "upcycle the student to MoE after D2D")] bool Enabled,
    [Int(1, 64)] int Experts,
    [Int(1, 64)] int TopK,
    [Placement(Name = "placement")] IReadOnlyList<int>? Layers,
    [Real(0, 64, MinExclusive = true)] double TrainCapacityFactor,
    [Real(0, 64)] double EvalCapacityFactor);

/// <summary>The optimiser keys of a training stage (<c>distill.&lt;stage&gt;.batch-size</c>, ...): AdamW with linear
/// warm-up then cosine decay.</summary>
public sealed record OptimiserSettings(
    [Int(1, 65536)] int BatchSize,
    [Real(0, 10, MinExclusive = true)] double LearningRate,
    [Real(0, 10)] double WeightDecay,
    [Int(0, Big)] int WarmupSteps);

/// <summary><c>distill.teacher</c>: <see cref="Checkpoint"/> empty = pretrain on the training split.</summary>
public sealed record TeacherSettings(
    [Text(Description = "empty = pretrain")] string Checkpoint,
    [Path(Description = "pretrained teachers kept across runs; empty = none")] string Store,
    [Int(1, 100_000)] int Epochs,
    [Section(Name = "")] OptimiserSettings Optimiser,
    [Int(1, 4096)] int TopK,
    [Int(1, 4096, Description = "top-K log-probs per position kept as float16 (at most top-k are)")] int ExactLogprobs,
    [Int(2, 8, Description = "bits per quantised step of the other log-probs")] int LogprobStepBits,
    [OneOf(typeof(IpcCompressions), Description = "Arrow IPC body compression of teacher/v2 batches")] IpcCompression Compression)
{
    /// <summary>How teacher/v2 batches store the top-K.</summary>
    public TeacherEncoding Encoding() => new(ExactLogprobs, LogprobStepBits, Compression);
}

/// <summary><c>distill.mimic</c>; its budget (epochs per phase, optimiser) is also the <c>sft</c> baseline's.</summary>
public sealed record MimicSettings(
    [Int(0, 100_000, Description = "0 = no projector warm-up")] int ProjectorWarmupEpochs,
    [Int(0, 100_000)] int D2dEpochs,
    [Int(0, 100_000, Description = "0 when distill.model.student.moe.enabled = false")] int D2sEpochs,
    [Section(Name = "")] OptimiserSettings Optimiser,
    [Real(0, double.PositiveInfinity)] double KdWeight,
    [Real(0, double.PositiveInfinity)] double CeWeight,
    [OneOf(typeof(TokenScopes))] TokenScope Scope,
    [OneOf(typeof(Divergences))] Divergence Loss,
    [Real(0, 1, MinExclusive = true, MaxExclusive = true)] double JsdBeta,
    [Real(0, 100, MinExclusive = true)] double Temperature,
    [Real(0, double.PositiveInfinity)] double AuxWeight,
    [Flag] bool TeacherGeneratedResponses);

/// <summary><c>distill.preference</c>: <see cref="Sources"/> are <c>dataset</c>, <c>student-sampled</c>,
/// <c>hallucination</c>; <see cref="DatasetFile"/> empty = none.</summary>
public sealed record PreferenceSettings(
    [OneOf(typeof(PreferenceLossKinds))] PreferenceLossKind Loss,
    [Real(0, 100, MinExclusive = true)] double Beta,
    [Real(0, 100)] double SftWeight,
    [Int(1, 100_000)] int Epochs,
    [Section(Name = "")] OptimiserSettings Optimiser,
    [OneOf(typeof(ConfigSchema), nameof(ConfigSchema.PreferenceSourceNames), List = true)] IReadOnlyList<string> Sources,
    [Text(Description = "RLAIF-V style JSON / JSON lines; empty = none")] string DatasetFile,
    [Int(0, Big)] int Prompts,
    [Int(0, Big, Name = "heldout-prompts")] int HeldOutPrompts,
    [Int(2, 64)] int SamplesPerPrompt,
    [Real(0, 10, MinExclusive = true)] double Temperature,
    [Real(0, 1, MinExclusive = true)] double TopP,
    [Int(1, 4096)] int MaxNewTokens)
{
    public bool Uses(string source) => Sources.Contains(source, StringComparer.Ordinal);
}

/// <summary><c>distill.mod</c>: gamma-MoD conversion (DESIGN 5.4). <see cref="LatencyRepeats"/> 0 = no latency measurement.</summary>
public sealed record ModSettings(
    [Real(0, 1, Description = "share of a row's image tokens that skip each MoD layer in training")] double SkipRatio,
    [Int(0, 256, Description = "the first layers are never converted")] int KeepFirst,
    [Int(0, 256, Description = "the last layers are never converted")] int KeepLast,
    [Real(0, 1, MinExclusive = true, Description = "at most this share of the decoder layers is converted")] double TargetFraction,
    [Int(1, Big)] int CalibrationSamples,
    [Real(0, double.PositiveInfinity)] double RoutingLossWeight,
    [Real(0, 10, MinExclusive = true, Description = "peak learning rate of the shared router")] double RouterLearningRate,
    [Int(1, 100_000)] int Epochs,
    [Section(Name = "")] OptimiserSettings Optimiser,
    [Real(0, double.PositiveInfinity)] double KdWeight,
    [Real(0, double.PositiveInfinity)] double CeWeight,
    [Real(0, 1)] double PrefillThreshold,
    [Real(0, 1)] double DecodeThreshold,
    [Int(0, 10_000, Description = "0 = no latency measurement")] int LatencyRepeats,
    [Int(0, 1024, Description = "torch threads while measuring latency; 0 = distill.torch-threads")] int LatencyThreads);

/// <summary><c>distill.eval</c>: <see cref="MaxPerFamily"/> 0 = all test samples; <see cref="SpeedPrompts"/> test
/// prompts the speed of each model is measured on, in <see cref="SpeedRepeats"/> timed rounds after a warm-up.</summary>
public sealed record EvalSettings(
    [Int(1, 65536)] int BatchSize,
    [Int(1, 4096)] int MaxNewTokens,
    [Int(0, Big, Description = "0 = all")] int MaxPerFamily,
    [Int(0, 4096, Description = "0 = no speed measurement")] int SpeedPrompts,
    [Int(1, 1000)] int SpeedRepeats);

/// <summary><c>distill.parallelism</c>.</summary>
public sealed record ParallelismSettings(
    [Int(1, 256)] int Loaders,
    [Int(1, 256)] int TeacherWorkers,
    [Int(1, 4096)] int CreditWindow,
    [Int(1, 65536)] int ShardSize,
    [Int(1, 1_000_000, Description = "shards a later epoch reads back from disk and shuffles together; memory grows with it, not with the data")]
    int ReplayWindow);

/// <summary><c>distill.transport</c>.</summary>
public sealed record TransportSettings([Int(64 * 1024, 1L << 30)] long MaxBatchBytes);

/// <summary><c>distill.cluster</c>: the Akka cluster of <c>./run.sh cluster</c> and <c>distill node</c>. The coordinator
/// node (supervisor, stage coordinators, trainer, compute stages) listens on <see cref="Host"/>:<see cref="CoordinatorPort"/>
/// and is the seed; each teacher node runs <see cref="TeacherLoaders"/> loaders and <see cref="TeacherWorkers"/>
/// teacher workers per distillation stage. <see cref="Seed"/> empty = teacher nodes get it from <c>--seed</c>. The
/// transport is TLS with mutual authentication (<see cref="Tls"/>) unless <see cref="Insecure"/>.</summary>
public sealed record ClusterSettings(
    [Text(AllowEmpty = false, Description = "address this node binds to and other nodes reach it at")] string Host,
    [Text(Description = "coordinator address teacher nodes join (akka.ssl.tcp://distill@host:port; akka.tcp with insecure); empty = give --seed")] string Seed,
    [Int(0, 65535, Name = "coordinator.port", Description = "0 = any free port")] int CoordinatorPort,
    [Int(1, 4096, Name = "coordinator.credit-window")] int CreditWindow,
    [Int(0, 65535, Name = "teacher.base-port", Description = "teacher node i listens on base-port + i; 0 = any free port")] int TeacherBasePort,
    [Int(1, 256, Name = "teacher.loaders")] int TeacherLoaders,
    [Int(1, 256, Name = "teacher.workers")] int TeacherWorkers,
    [Int(1, 86400, Description = "seconds")] TimeSpan TeacherWait,
    [Int(1, 86400, Description = "seconds")] TimeSpan JoinTimeout,
    [Int(1, 600, Description = "seconds")] TimeSpan HeartbeatPause,
    [Int(1, 600, Description = "seconds")] TimeSpan DownAfter,
    ClusterTlsSettings Tls,
    [Flag(Description = "true = plain TCP, no TLS: any process that can reach a node's port can join and send")] bool Insecure);

/// <summary><c>distill.cluster.tls</c>: this node's certificate and the CA every node's certificate must be signed by
/// (paths absolute; empty = null). Both null on a loopback host = the run's throwaway certificates under
/// <c>&lt;run&gt;/cluster/tls/</c> (<see cref="Cluster.ClusterCertificates"/>).</summary>
public sealed record ClusterTlsSettings(
    [Path(Description = "the CA certificate (PEM or DER) every node's certificate must chain to")] string? Ca,
    [Path(Description = "this node's certificate: PKCS#12 (.p12/.pfx, no password) with its key, or PEM with distill.cluster.tls.key")] string? Certificate,
    [Path(Description = "PEM private key of a PEM certificate; empty for PKCS#12")] string? Key);

/// <summary><c>distill.cache</c>: the teacher-output cache. <see cref="Dir"/> empty = <c>&lt;run-dir&gt;/cache</c>
/// (absolute after <see cref="Runs.RunDirectory.Create"/> when set).</summary>
public sealed record CacheSettings(
    [Text(Description = "teacher-output cache directory; empty = <run-dir>/cache")] string Dir,
    [OneOf(typeof(CacheModes), Description = "off = no cache; reuse = use complete parts, teacher for the rest; write = recompute all; replay = cache only, no teacher")]
    CacheMode Mode,
    [Flag(Description = "on = the trainer consumes shards in id order (live = replay, bit for bit)")] bool StrictOrder);
