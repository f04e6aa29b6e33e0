using Distill.Models.Devices;
using Distill.Stages.Distillation;
using Distill.Stages.Losses;
namespace Distill.Pipeline.Configuration;

/// <summary>Maps validated values (path -> converted value) to <see cref="DistillSettings"/>. Records which keys it
/// read, so a test can check that every schema key is bound.</summary>
internal sealed class SettingsBinder(IReadOnlyDictionary<string, object> values)
{
    private readonly HashSet<string> _read = new(StringComparer.Ordinal);

    public IReadOnlySet<string> Read => _read;

    private object Get(string path)
    {
        _read.Add(path);
        return values.TryGetValue(path, out var v) ? v : throw new InvalidOperationException($"{path} was not validated");
    }

    private int I(string path) => checked((int)(long)Get(path));
    private long L(string path) => (long)Get(path);
    private double D(string path) => (double)Get(path);
    private string S(string path) => (string)Get(path);
    private bool B(string path) => (bool)Get(path);
    private IReadOnlyList<string> List(string path) => (IReadOnlyList<string>)Get(path);

    /// <summary>A store folder: "~/" is the home folder; empty stays empty (no store).</summary>
    private static string StorePath(string value) => value.Length == 0 ? ""
        : System.IO.Path.GetFullPath(value.StartsWith("~/", StringComparison.Ordinal)
            ? System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), value[2..])
            : value);

    private string? Path(string key) => S(key) is { Length: > 0 } p ? System.IO.Path.GetFullPath(p) : null;

    /// <summary>The LLaVA dataset keys; every one is read (the binder's test checks all keys are bound) even for Shapes.</summary>
    private LlavaDataSettings? Llava()
    {
        var settings = new LlavaDataSettings(
            Train: Path("distill.data.train") ?? "",
            ImageFolder: Path("distill.data.image-folder"),
            HeldOut: Path("distill.data.held-out"),
            HeldOutRatio: D("distill.data.held-out-ratio"),
            Test: Path("distill.data.test"),
            Pope: Path("distill.data.pope"),
            Chair: Path("distill.data.chair"),
            ChairVocabulary: Path("distill.data.chair-vocabulary"),
            CaptionPrompt: S("distill.data.caption-prompt"),
            ChatTemplate: S("distill.data.chat-template"),
            ImageAspect: S("distill.data.image-aspect"),
            MaxLength: I("distill.data.max-length"),
            SkipLongSamples: S("distill.data.long-samples") == "skip",
            MaxBadFraction: D("distill.data.max-bad-fraction"),
            Strict: B("distill.data.strict"));
        return settings.Train.Length == 0 ? null : settings;
    }

    public DistillSettings Bind() => new(
        RunDir: S("distill.run-dir"),
        Seed: I("distill.seed"),
        Stages: List("distill.stages"),
        TorchThreads: I("distill.torch-threads"),
        Device: DeviceSelector.Parse(S("distill.device")),
        DType: ComputeDType.Parse(S(ComputeDType.Key)),
        Data: new DataSettings(
            Dir: S("distill.data.dir"),
            ImageSize: I("distill.data.image-size"),
            TrainScenes: I("distill.data.train-scenes"),
            ValScenes: I("distill.data.val-scenes"),
            TestScenes: I("distill.data.test-scenes"),
            QuestionsPerScene: I("distill.data.questions-per-scene"),
            MinObjects: I("distill.data.min-objects"),
            MaxObjects: I("distill.data.max-objects"),
            Families: List("distill.data.families"),
            ExistenceWeight: I("distill.data.existence-weight"),
            LabelledImages: I("distill.data.labelled-images"))
        { Llava = Llava() },
        Model: new ModelSettings(
            Vision: new VisionSettings(
                PatchSize: I("distill.model.vision.patch-size"),
                HiddenSize: I("distill.model.vision.hidden-size"),
                IntermediateSize: I("distill.model.vision.intermediate-size"),
                Layers: I("distill.model.vision.layers"),
                Heads: I("distill.model.vision.heads"),
                SelectLayer: I("distill.model.vision.select-layer")),
            Teacher: Decoder("distill.model.teacher"),
            Student: Decoder("distill.model.student"),
            RopeTheta: D("distill.model.rope-theta"),
            MaxPositions: I("distill.model.max-positions"),
            StudentMoe: new StudentMoeSettings(
                Enabled: B("distill.model.student.moe.enabled"),
                Experts: I("distill.model.student.moe.experts"),
                TopK: I("distill.model.student.moe.top-k"),
                Layers: Get("distill.model.student.moe.placement") as IReadOnlyList<int>,
                TrainCapacityFactor: D("distill.model.student.moe.train-capacity-factor"),
                EvalCapacityFactor: D("distill.model.student.moe.eval-capacity-factor")),
            StudentInit: S("distill.model.student.init"),
            StudentVisionInit: S("distill.model.student.vision-init")),
        Teacher: new TeacherSettings(
            Checkpoint: S("distill.teacher.checkpoint"),
            Store: StorePath(S("distill.teacher.store")),
            Epochs: I("distill.teacher.epochs"),
            BatchSize: I("distill.teacher.batch-size"),
            LearningRate: D("distill.teacher.learning-rate"),
            WeightDecay: D("distill.teacher.weight-decay"),
            WarmupSteps: I("distill.teacher.warmup-steps"),
            TopK: I("distill.teacher.top-k")),
        Mimic: new MimicSettings(
            ProjectorWarmupEpochs: I("distill.mimic.projector-warmup-epochs"),
            D2dEpochs: I("distill.mimic.d2d-epochs"),
            D2sEpochs: I("distill.mimic.d2s-epochs"),
            BatchSize: I("distill.mimic.batch-size"),
            LearningRate: D("distill.mimic.learning-rate"),
            WeightDecay: D("distill.mimic.weight-decay"),
            WarmupSteps: I("distill.mimic.warmup-steps"),
            KdWeight: D("distill.mimic.kd-weight"),
            CeWeight: D("distill.mimic.ce-weight"),
            Scope: TokenScopes.Parse(S("distill.mimic.scope")),
            Loss: Divergences.Parse(S("distill.mimic.loss")),
            JsdBeta: D("distill.mimic.jsd-beta"),
            Temperature: D("distill.mimic.temperature"),
            AuxWeight: D("distill.mimic.aux-weight"),
            TeacherGeneratedResponses: B("distill.mimic.teacher-generated-responses")),
        Mod: new ModSettings(
            SkipRatio: D("distill.mod.skip-ratio"),
            KeepFirst: I("distill.mod.keep-first"),
            KeepLast: I("distill.mod.keep-last"),
            TargetFraction: D("distill.mod.target-fraction"),
            CalibrationSamples: I("distill.mod.calibration-samples"),
            RoutingLossWeight: D("distill.mod.routing-loss-weight"),
            RouterLearningRate: D("distill.mod.router-learning-rate"),
            Epochs: I("distill.mod.epochs"),
            BatchSize: I("distill.mod.batch-size"),
            LearningRate: D("distill.mod.learning-rate"),
            WeightDecay: D("distill.mod.weight-decay"),
            WarmupSteps: I("distill.mod.warmup-steps"),
            KdWeight: D("distill.mod.kd-weight"),
            CeWeight: D("distill.mod.ce-weight"),
            PrefillThreshold: D("distill.mod.prefill-threshold"),
            DecodeThreshold: D("distill.mod.decode-threshold"),
            LatencyRepeats: I("distill.mod.latency-repeats"),
            LatencyThreads: I("distill.mod.latency-threads")),
        Eval: new EvalSettings(
            BatchSize: I("distill.eval.batch-size"),
            MaxNewTokens: I("distill.eval.max-new-tokens"),
            MaxPerFamily: I("distill.eval.max-per-family"))
        {
            SpeedPrompts = I("distill.eval.speed-prompts"),
            SpeedRepeats = I("distill.eval.speed-repeats"),
        },
        Parallelism: new ParallelismSettings(
            Loaders: I("distill.parallelism.loaders"),
            TeacherWorkers: I("distill.parallelism.teacher-workers"),
            CreditWindow: I("distill.parallelism.credit-window"),
            ShardSize: I("distill.parallelism.shard-size")),
        Transport: new TransportSettings(
            MaxBatchBytes: L("distill.transport.max-batch-bytes")),
        Preference: new PreferenceSettings(
            Loss: PreferenceLossKinds.Parse(S("distill.preference.loss")),
            Beta: D("distill.preference.beta"),
            SftWeight: D("distill.preference.sft-weight"),
            Epochs: I("distill.preference.epochs"),
            BatchSize: I("distill.preference.batch-size"),
            LearningRate: D("distill.preference.learning-rate"),
            WeightDecay: D("distill.preference.weight-decay"),
            WarmupSteps: I("distill.preference.warmup-steps"),
            Sources: List("distill.preference.sources"),
            DatasetFile: S("distill.preference.dataset-file"),
            Prompts: I("distill.preference.prompts"),
            HeldOutPrompts: I("distill.preference.heldout-prompts"),
            SamplesPerPrompt: I("distill.preference.samples-per-prompt"),
            Temperature: D("distill.preference.temperature"),
            TopP: D("distill.preference.top-p"),
            MaxNewTokens: I("distill.preference.max-new-tokens")),
        Cluster: new ClusterSettings(
            Host: S("distill.cluster.host"),
            Seed: S("distill.cluster.seed"),
            CoordinatorPort: I("distill.cluster.coordinator.port"),
            CreditWindow: I("distill.cluster.coordinator.credit-window"),
            TeacherBasePort: I("distill.cluster.teacher.base-port"),
            TeacherLoaders: I("distill.cluster.teacher.loaders"),
            TeacherWorkers: I("distill.cluster.teacher.workers"),
            TeacherWait: TimeSpan.FromSeconds(I("distill.cluster.teacher-wait")),
            JoinTimeout: TimeSpan.FromSeconds(I("distill.cluster.join-timeout")),
            HeartbeatPause: TimeSpan.FromSeconds(I("distill.cluster.heartbeat-pause")),
            DownAfter: TimeSpan.FromSeconds(I("distill.cluster.down-after"))),
        Cache: new CacheSettings(
            Dir: S("distill.cache.dir"),
            Mode: Distill.Stages.Cache.CacheModes.Parse(S("distill.cache.mode")),
            StrictOrder: S("distill.cache.strict-order") == "on"));

    private DecoderSettings Decoder(string p) => new(
        HiddenSize: I($"{p}.hidden-size"),
        IntermediateSize: I($"{p}.intermediate-size"),
        Layers: I($"{p}.layers"),
        Heads: I($"{p}.heads"),
        KvHeads: I($"{p}.kv-heads"));
}
