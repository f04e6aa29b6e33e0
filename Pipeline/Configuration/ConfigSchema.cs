using Distill.Models.Devices;
using Distill.Stages.Arrow;
using Distill.Stages.Losses;

namespace Distill.Pipeline.Configuration;

/// <summary>Every key under <c>distill</c> with its type and constraints. <c>hocon/pipeline.conf</c> must list
/// exactly these keys (a test checks both directions), so the schema cannot drift from the defaults.</summary>
public static class ConfigSchema
{
    public const string RootKey = "distill";

    public static readonly IReadOnlyList<string> StageNames = ["teacher", "sft", "mimic", "preference", "mod", "eval"];
    public static readonly IReadOnlyList<string> FamilyNames = Distill.Stages.Data.ShapesVocabulary.Families;
    public static readonly IReadOnlyList<string> ScopeNames = ["response", "all"];
    public static readonly IReadOnlyList<string> LossNames = Distill.Stages.Losses.Divergences.Names;
    public static readonly IReadOnlyList<string> PreferenceSourceNames =
        [PreferenceSources.Dataset, PreferenceSources.StudentSampled, PreferenceSources.Hallucination];

    private const long Big = 100_000_000;

    /// <summary>All keys, in the order of <c>pipeline.conf</c> (the resolved config is written in this order).</summary>
    public static IReadOnlyList<SchemaKey> Keys { get; } =
    [
        new StringKey("distill.run-dir", Description: "run directory; empty = runs/<yyyyMMdd-HHmmss>-<preset>"),
        new IntKey("distill.seed", 0, int.MaxValue),
        new EnumListKey("distill.stages", StageNames),
        new IntKey("distill.torch-threads", 0, 1024, "0 = number of cores"),
        new EnumKey("distill.device", DeviceSelector.Names, "auto = cuda when available, else cpu"),
        new EnumKey(ComputeDType.Key, ComputeDType.Names, "bfloat16 = half the memory; float32 master weights and float32 losses"),

        new StringKey("distill.data.dir", Description: "empty = <run-dir>/data"),
        new IntKey("distill.data.image-size", 8, 1024),
        new IntKey("distill.data.train-scenes", 1, Big),
        new IntKey("distill.data.val-scenes", 1, Big),
        new IntKey("distill.data.test-scenes", 1, Big),
        new IntKey("distill.data.questions-per-scene", 1, 64),
        new IntKey("distill.data.min-objects", 1, 6),
        new IntKey("distill.data.max-objects", 1, 6),
        new EnumListKey("distill.data.families", FamilyNames),
        new IntKey("distill.data.existence-weight", 1, 16, "existence probes per question of each other family"),
        new IntKey("distill.data.labelled-images", 0, Big, "training images the students see labelled; 0 = all"),
        new StringKey("distill.data.train", Description: "a LLaVA conversation file or mixture manifest; empty = the Shapes benchmark"),
        new StringKey("distill.data.image-folder", Description: "empty = the data file's folder"),
        new StringKey("distill.data.held-out", Description: "a file of held-out conversations; empty = held-out-ratio of train"),
        new DoubleKey("distill.data.held-out-ratio", 0, 1, MinExclusive: true, MaxExclusive: true),
        new StringKey("distill.data.test", Description: "conversations the eval answers; empty = the held-out ones"),
        new StringKey("distill.data.pope", Description: "a POPE file; empty = none"),
        new StringKey("distill.data.chair", Description: "a CHAIR caption file; empty = none"),
        new StringKey("distill.data.chair-vocabulary", Description: "the CHAIR object vocabulary (needed with chair)"),
        new StringKey("distill.data.caption-prompt", AllowEmpty: false),
        new EnumKey("distill.data.chat-template", ["auto", .. Distill.Stages.Text.ConversationTemplates.Names]),
        new EnumKey("distill.data.image-aspect", ["pad", "keep"]),
        new IntKey("distill.data.max-length", 8, 1_000_000, "tokens, image tokens included"),
        new EnumKey("distill.data.long-samples", ["truncate", "skip"]),
        new DoubleKey("distill.data.max-bad-fraction", 0, 1, MinExclusive: false),
        new BoolKey("distill.data.strict", "true = the first bad sample stops the run"),

        new IntKey("distill.model.vision.patch-size", 1, 256),
        new IntKey("distill.model.vision.hidden-size", 1, 65536),
        new IntKey("distill.model.vision.intermediate-size", 1, 262144),
        new IntKey("distill.model.vision.layers", 1, 256),
        new IntKey("distill.model.vision.heads", 1, 1024),
        new IntKey("distill.model.vision.select-layer", -256, 255, "negative counts from the last layer (-1 = last)"),
        .. Decoder("teacher"),
        .. Decoder("student"),
        .. StudentMoe(),
        new DoubleKey("distill.model.rope-theta", 0, double.PositiveInfinity, MinExclusive: true),
        new IntKey("distill.model.max-positions", 8, 1 << 20),

        new StringKey("distill.teacher.checkpoint", Description: "empty = pretrain"),
        new StringKey("distill.teacher.store", Description: "pretrained teachers kept across runs; empty = none"),
        new IntKey("distill.teacher.epochs", 1, 100_000),
        .. Optimiser("teacher"),
        new IntKey("distill.teacher.top-k", 1, 4096),

        new IntKey("distill.mimic.projector-warmup-epochs", 0, 100_000, "0 = no projector warm-up"),
        new IntKey("distill.mimic.d2d-epochs", 0, 100_000),
        new IntKey("distill.mimic.d2s-epochs", 0, 100_000, "0 when distill.model.student.moe.enabled = false"),
        .. Optimiser("mimic"),
        new DoubleKey("distill.mimic.kd-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new DoubleKey("distill.mimic.ce-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new EnumKey("distill.mimic.scope", ScopeNames),
        new EnumKey("distill.mimic.loss", LossNames),
        new DoubleKey("distill.mimic.jsd-beta", 0, 1, MinExclusive: true, MaxExclusive: true),
        new DoubleKey("distill.mimic.temperature", 0, 100, MinExclusive: true),
        new DoubleKey("distill.mimic.aux-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new BoolKey("distill.mimic.teacher-generated-responses"),

        new EnumKey("distill.preference.loss", PreferenceLossKinds.Names),
        new DoubleKey("distill.preference.beta", 0, 100, MinExclusive: true),
        new DoubleKey("distill.preference.sft-weight", 0, 100, MinExclusive: false),
        new IntKey("distill.preference.epochs", 1, 100_000),
        .. Optimiser("preference"),
        new EnumListKey("distill.preference.sources", PreferenceSourceNames),
        new StringKey("distill.preference.dataset-file", Description: "RLAIF-V style JSON / JSON lines; empty = none"),
        new IntKey("distill.preference.prompts", 0, Big),
        new IntKey("distill.preference.heldout-prompts", 0, Big),
        new IntKey("distill.preference.samples-per-prompt", 2, 64),
        new DoubleKey("distill.preference.temperature", 0, 10, MinExclusive: true),
        new DoubleKey("distill.preference.top-p", 0, 1, MinExclusive: true),
        new IntKey("distill.preference.max-new-tokens", 1, 4096),

        new DoubleKey("distill.mod.skip-ratio", 0, 1, MinExclusive: false, "share of a row's image tokens that skip each MoD layer in training"),
        new IntKey("distill.mod.keep-first", 0, 256, "the first layers are never converted"),
        new IntKey("distill.mod.keep-last", 0, 256, "the last layers are never converted"),
        new DoubleKey("distill.mod.target-fraction", 0, 1, MinExclusive: true, "at most this share of the decoder layers is converted"),
        new IntKey("distill.mod.calibration-samples", 1, Big),
        new DoubleKey("distill.mod.routing-loss-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new DoubleKey("distill.mod.router-learning-rate", 0, 10, MinExclusive: true, "peak learning rate of the shared router"),
        new IntKey("distill.mod.epochs", 1, 100_000),
        .. Optimiser("mod"),
        new DoubleKey("distill.mod.kd-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new DoubleKey("distill.mod.ce-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new DoubleKey("distill.mod.prefill-threshold", 0, 1, MinExclusive: false),
        new DoubleKey("distill.mod.decode-threshold", 0, 1, MinExclusive: false),
        new IntKey("distill.mod.latency-repeats", 0, 10_000, "0 = no latency measurement"),
        new IntKey("distill.mod.latency-threads", 0, 1024, "torch threads while measuring latency; 0 = distill.torch-threads"),

        new IntKey("distill.eval.batch-size", 1, 65536),
        new IntKey("distill.eval.max-new-tokens", 1, 4096),
        new IntKey("distill.eval.max-per-family", 0, Big, "0 = all"),
        new IntKey("distill.eval.speed-prompts", 0, 4096, "0 = no speed measurement"),
        new IntKey("distill.eval.speed-repeats", 1, 1000),

        new IntKey("distill.parallelism.loaders", 1, 256),
        new IntKey("distill.parallelism.teacher-workers", 1, 256),
        new IntKey("distill.parallelism.credit-window", 1, 4096),
        new IntKey("distill.parallelism.shard-size", 1, 65536),

        new IntKey("distill.transport.max-batch-bytes", 64 * 1024, 1L << 30),

        new StringKey("distill.cluster.host", AllowEmpty: false, Description: "address this node binds to and other nodes reach it at"),
        new StringKey("distill.cluster.seed", Description: "coordinator address teacher nodes join (akka.tcp://distill@host:port); empty = give --seed"),
        new IntKey("distill.cluster.coordinator.port", 0, 65535, "0 = any free port"),
        new IntKey("distill.cluster.coordinator.credit-window", 1, 4096),
        new IntKey("distill.cluster.teacher.base-port", 0, 65535, "teacher node i listens on base-port + i; 0 = any free port"),
        new IntKey("distill.cluster.teacher.loaders", 1, 256),
        new IntKey("distill.cluster.teacher.workers", 1, 256),
        new IntKey("distill.cluster.teacher-wait", 1, 86400, "seconds"),
        new IntKey("distill.cluster.join-timeout", 1, 86400, "seconds"),
        new IntKey("distill.cluster.heartbeat-pause", 1, 600, "seconds"),
        new IntKey("distill.cluster.down-after", 1, 600, "seconds"),
        new StringKey("distill.cache.dir", Description: "teacher-output cache directory; empty = <run-dir>/cache"),
        new EnumKey("distill.cache.mode", Distill.Stages.Cache.CacheModes.Names,
            "off = no cache; reuse = use complete parts, teacher for the rest; write = recompute all; replay = cache only, no teacher"),
        new EnumKey("distill.cache.strict-order", ["on", "off"], "on = the trainer consumes shards in id order (live = replay, bit for bit)"),
    ];

    /// <summary>The cluster's host must be reachable by other nodes; a seed must be a Distill node's address.</summary>
    private static IEnumerable<string> ClusterChecks(Func<string, long?> number, Func<string, string?> text)
    {
        if (text("distill.cluster.host") is { } host && host.Trim() is "0.0.0.0" or "::" or "*")
            yield return $"distill.cluster.host: '{host}' binds every interface but is no address other nodes can reach; give this machine's address (127.0.0.1 for one machine)";
        if (text("distill.cluster.seed") is { Length: > 0 } seed && Cluster.ClusterAddress.Check(seed) is { } problem)
            yield return $"distill.cluster.seed: {problem}";
        var basePort = number("distill.cluster.teacher.base-port");
        var coordinatorPort = number("distill.cluster.coordinator.port");
        if (basePort is > 0 && coordinatorPort is > 0 && basePort == coordinatorPort)
            yield return $"distill.cluster.teacher.base-port ({basePort}) must differ from distill.cluster.coordinator.port ({coordinatorPort})";
    }

    private static IEnumerable<SchemaKey> Decoder(string which) =>
    [
        new IntKey($"distill.model.{which}.hidden-size", 1, 65536),
        new IntKey($"distill.model.{which}.intermediate-size", 1, 262144),
        new IntKey($"distill.model.{which}.layers", 1, 256),
        new IntKey($"distill.model.{which}.heads", 1, 1024),
        new IntKey($"distill.model.{which}.kv-heads", 1, 1024),
    ];

    private static IEnumerable<SchemaKey> StudentMoe() =>
    [
        new BoolKey("distill.model.student.moe.enabled", "upcycle the student to MoE after D2D"),
        new IntKey("distill.model.student.moe.experts", 1, 64),
        new IntKey("distill.model.student.moe.top-k", 1, 64),
        new LayerPlacementKey("distill.model.student.moe.placement"),
        new DoubleKey("distill.model.student.moe.train-capacity-factor", 0, 64, MinExclusive: true),
        new DoubleKey("distill.model.student.moe.eval-capacity-factor", 0, 64, MinExclusive: false),
        new StringKey("distill.model.student.init", Description: "HF causal LM or LLaVA directory the student's LM starts from; empty = fresh"),
        new StringKey("distill.model.student.vision-init", Description: "LLaVA directory of the student's vision tower; empty = the teacher's"),
    ];

    private static IEnumerable<SchemaKey> Optimiser(string stage) =>
    [
        new IntKey($"distill.{stage}.batch-size", 1, 65536),
        new DoubleKey($"distill.{stage}.learning-rate", 0, 10, MinExclusive: true),
        new DoubleKey($"distill.{stage}.weight-decay", 0, 10, MinExclusive: false),
        new IntKey($"distill.{stage}.warmup-steps", 0, Big),
    ];

    private static readonly Dictionary<string, SchemaKey> ByPath = Keys.ToDictionary(k => k.Path, StringComparer.Ordinal);

    /// <summary>Sections (objects): <c>distill</c>, <c>distill.data</c>, <c>distill.model.vision</c>, ...</summary>
    public static IReadOnlySet<string> Sections { get; } = Keys
        .SelectMany(k => Prefixes(k.Path))
        .ToHashSet(StringComparer.Ordinal);

    public static SchemaKey? Find(string path) => ByPath.GetValueOrDefault(path);

    public static bool IsSection(string path) => Sections.Contains(path);

    /// <summary>Names allowed directly under a section (leaf keys and sub-sections), in schema order.</summary>
    public static IReadOnlyList<string> ChildrenOf(string section)
    {
        var prefix = section + ".";
        return Keys.Select(k => k.Path)
            .Where(p => p.StartsWith(prefix, StringComparison.Ordinal))
            .Select(p => p[prefix.Length..].Split('.')[0])
            .Distinct()
            .ToArray();
    }

    private static IEnumerable<string> Prefixes(string path)
    {
        for (var i = path.IndexOf('.'); i >= 0; i = path.IndexOf('.', i + 1)) yield return path[..i];
    }

    /// <summary>Checks that involve more than one key; <paramref name="get"/> returns a key's converted value, or
    /// null when that key already failed (then the check that needs it is skipped).</summary>
    public static IEnumerable<string> CrossChecks(Func<string, object?> get)
    {
        long? I(string p) => get(p) as long?;
        string? S(string p) => get(p) as string;

        var stages = get("distill.stages") as IReadOnlyList<string>;
        if (stages is not null)
        {
            // Canonical order: teacher before mimic before eval.
            var order = stages.Select(s => ((IList<string>)StageNames).IndexOf(s)).ToArray();
            for (var i = 1; i < order.Length; i++)
            {
                if (order[i] < order[i - 1])
                {
                    yield return $"distill.stages: '{stages[i]}' cannot run after '{stages[i - 1]}'; stages run in the order {string.Join(", ", StageNames)}";
                    break;
                }
            }
            var checkpoint = S("distill.teacher.checkpoint");
            if (!stages.Contains("teacher") && checkpoint is not null && checkpoint.Length == 0)
            {
                foreach (var needy in stages.Where(s => s is "sft" or "mimic" or "mod" or "eval"))
                    yield return $"distill.stages: '{needy}' needs a teacher: add 'teacher' before it or set distill.teacher.checkpoint";
            }
        }

        if (S("distill.device") == "cuda" && !DeviceSelector.BuiltWithCuda)
            yield return DeviceSelector.CudaUnavailableMessage();

        foreach (var key in new[] { "distill.teacher.checkpoint", "distill.model.student.init", "distill.model.student.vision-init" })
        {
            var path = S(key);
            if (string.IsNullOrEmpty(path)) continue;
            if (!Directory.Exists(path)) yield return $"{key}: directory '{path}' does not exist";
            else if (ModelDirectoryProblem(path, key) is { } problem) yield return problem;
        }

        if (I("distill.data.labelled-images") is > 0 and var labelled && get("distill.data.train") is string { Length: 0 }
            && I("distill.data.train-scenes") is { } scenes && labelled > scenes)
            yield return $"distill.data.labelled-images ({labelled}) must not exceed distill.data.train-scenes ({scenes}): a Shapes scene is one image";
        var min = I("distill.data.min-objects");
        var max = I("distill.data.max-objects");
        if (min is not null && max is not null && min > max)
            yield return $"distill.data.min-objects ({min}) must not exceed distill.data.max-objects ({max})";

        var image = I("distill.data.image-size");
        var patch = I("distill.model.vision.patch-size");
        if (image is not null && patch is not null && image % patch != 0)
            yield return $"distill.data.image-size ({image}) must be a multiple of distill.model.vision.patch-size ({patch})";

        var vHidden = I("distill.model.vision.hidden-size");
        var vHeads = I("distill.model.vision.heads");
        if (vHidden is not null && vHeads is not null && vHidden % vHeads != 0)
            yield return $"distill.model.vision.hidden-size ({vHidden}) must be divisible by distill.model.vision.heads ({vHeads})";

        var vLayers = I("distill.model.vision.layers");
        var select = I("distill.model.vision.select-layer");
        if (vLayers is not null && select is not null && (select >= vLayers || select < -vLayers))
            yield return $"distill.model.vision.select-layer ({select}) must be in {-vLayers}..{vLayers - 1} for {vLayers} vision layer(s)";

        foreach (var which in new[] { "teacher", "student" })
        {
            var p = $"distill.model.{which}";
            var hidden = I($"{p}.hidden-size");
            var heads = I($"{p}.heads");
            var kv = I($"{p}.kv-heads");
            if (hidden is not null && heads is not null)
            {
                if (hidden % heads != 0)
                    yield return $"{p}.hidden-size ({hidden}) must be divisible by {p}.heads ({heads})";
                else if (hidden / heads % 2 != 0)
                    yield return $"{p}.hidden-size / {p}.heads = {hidden / heads} must be even (rotary positions rotate pairs)";
            }
            if (heads is not null && kv is not null && (kv > heads || heads % kv != 0))
                yield return $"{p}.kv-heads ({kv}) must divide {p}.heads ({heads})";
        }

        foreach (var error in ClusterChecks(I, S)) yield return error;

        if (get("distill.mimic.kd-weight") is double kd && get("distill.mimic.ce-weight") is double ce && kd == 0 && ce == 0)
            yield return "distill.mimic.kd-weight and distill.mimic.ce-weight are both 0: the student would learn nothing";

        foreach (var error in StudentScheduleChecks(get)) yield return error;
        foreach (var error in PreferenceChecks(get, stages)) yield return error;
        foreach (var error in ModCrossChecks(get, stages)) yield return error;
        foreach (var error in LlavaDataChecks(get)) yield return error;
    }

    /// <summary>A LLaVA-format dataset needs a Hugging Face teacher (its tokenizer, template and image processor), has
    /// no Shapes scenes for hallucination pairs, and its CHAIR file needs the object vocabulary.</summary>
    private static IEnumerable<string> LlavaDataChecks(Func<string, object?> get)
    {
        if (get("distill.data.train") is not string { Length: > 0 } train) yield break;
        if (get("distill.teacher.checkpoint") is not string { Length: > 0 })
            yield return $"distill.data.train ({train}) is a LLaVA dataset: it needs distill.teacher.checkpoint, the Hugging Face teacher whose tokenizer, chat template and image processor read it";
        if (get("distill.preference.sources") is IReadOnlyList<string> sources && sources.Contains(PreferenceSources.Hallucination))
            yield return $"distill.preference.sources: '{PreferenceSources.Hallucination}' pairs need the objects of each training image, which a LLaVA dataset does not give; use dataset and student-sampled";
        if (get("distill.data.chair") is string { Length: > 0 } && get("distill.data.chair-vocabulary") is not string { Length: > 0 })
            yield return "distill.data.chair needs distill.data.chair-vocabulary (the CHAIR object vocabulary, {\"object\": [\"synonym\", ...]})";
        if (get("distill.mimic.projector-warmup-epochs") is long warmup && warmup > 0)
            yield return $"distill.mimic.projector-warmup-epochs ({warmup}) trains the projector on Shapes captions; a LLaVA dataset has none, set it to 0";
    }

    /// <summary>The student's MoE and the mimic/sft schedule: top-k within the experts, MoE layers inside the student,
    /// D2S only with MoE, at least one training epoch, warm-up only with captions.</summary>
    private static IEnumerable<string> StudentScheduleChecks(Func<string, object?> get)
    {
        const string moe = "distill.model.student.moe";
        var enabled = get($"{moe}.enabled") as bool?;
        if (get($"{moe}.experts") is long experts && get($"{moe}.top-k") is long topK && topK > experts)
            yield return $"{moe}.top-k ({topK}) must not exceed {moe}.experts ({experts})";
        if (enabled == true && get($"{moe}.placement") is IReadOnlyList<int> layers && get("distill.model.student.layers") is long studentLayers)
        {
            var outside = layers.Where(l => l >= studentLayers).ToArray();
            if (outside.Length > 0)
                yield return $"{moe}.placement: layer(s) {string.Join(", ", outside)} outside the student's {studentLayers} layer(s) (0..{studentLayers - 1})";
        }

        var d2d = get("distill.mimic.d2d-epochs") as long?;
        var d2s = get("distill.mimic.d2s-epochs") as long?;
        if (d2s > 0 && enabled == false)
            yield return $"distill.mimic.d2s-epochs ({d2s}) needs {moe}.enabled = true (D2S trains the upcycled MoE student); set it to 0 or enable MoE";
        if (d2d == 0 && d2s == 0)
            yield return "distill.mimic.d2d-epochs and distill.mimic.d2s-epochs are both 0: the student would not be trained";

        if (get("distill.mimic.projector-warmup-epochs") is long warmup && warmup > 0
            && get("distill.data.families") is IReadOnlyList<string> families && !families.Contains("caption"))
            yield return $"distill.mimic.projector-warmup-epochs ({warmup}) trains the projector on captions, but distill.data.families has no 'caption'; add it or set the warm-up to 0";
    }

    /// <summary>distill.preference: a teacher for the reference log-probs, a dataset file exactly when the dataset
    /// source is listed, and something to mine when only mining sources are listed.</summary>
    private static IEnumerable<string> PreferenceChecks(Func<string, object?> get, IReadOnlyList<string>? stages)
    {
        if (stages is not null && stages.Contains("preference") && !stages.Contains("teacher")
            && get("distill.teacher.checkpoint") is string { Length: 0 })
            yield return "distill.stages: 'preference' needs a teacher: add 'teacher' before it or set distill.teacher.checkpoint";
        var sources = get("distill.preference.sources") as IReadOnlyList<string>;
        var file = get("distill.preference.dataset-file") as string;
        if (sources is not null && file is not null)
        {
            bool dataset = sources.Contains(PreferenceSources.Dataset);
            if (dataset && file.Length == 0)
                yield return "distill.preference.sources: 'dataset' needs distill.preference.dataset-file (an RLAIF-V style JSON or JSON-lines file)";
            if (!dataset && file.Length > 0)
                yield return $"distill.preference.dataset-file is set ('{file}') but distill.preference.sources does not list 'dataset'";
            if (!dataset && get("distill.preference.prompts") is 0L)
                yield return $"distill.preference.prompts is 0: the sources [{string.Join(", ", sources)}] would mine no pair";
        }
        if (file is { Length: > 0 } && !File.Exists(file))
            yield return $"distill.preference.dataset-file: file '{file}' does not exist";
    }

    /// <summary>gamma-MoD: with the <c>mod</c> stage, keep-first + keep-last must leave a student layer to convert and
    /// the target fraction must ask for at least one layer; the loss weights must not all be 0.</summary>
    private static IEnumerable<string> ModCrossChecks(Func<string, object?> get, IReadOnlyList<string>? stages)
    {
        if (stages is null || !stages.Contains("mod")) yield break;
        var layers = get("distill.model.student.layers") as long?;
        var first = get("distill.mod.keep-first") as long?;
        var last = get("distill.mod.keep-last") as long?;
        if (layers is not null && first is not null && last is not null && first + last >= layers)
            yield return $"distill.mod.keep-first ({first}) + distill.mod.keep-last ({last}) keep all {layers} layer(s) of distill.model.student.layers dense: no layer is left to convert; their sum must be below {layers}";
        if (layers is not null && get("distill.mod.target-fraction") is double fraction && Math.Floor(fraction * layers.Value + 1e-9) < 1)
            yield return $"distill.mod.target-fraction ({fraction.ToString(System.Globalization.CultureInfo.InvariantCulture)}) of {layers} layer(s) of distill.model.student.layers is less than one layer: nothing would be converted";
        if (get("distill.mod.kd-weight") is double kd && get("distill.mod.ce-weight") is double ce && kd == 0 && ce == 0)
            yield return "distill.mod.kd-weight and distill.mod.ce-weight are both 0: the converted student would learn only its routing";
    }

    /// <summary>Why a model directory setting cannot be used (its config.json missing or not one Distill builds), or null.</summary>
    private static string? ModelDirectoryProblem(string path, string key)
    {
        try
        {
            var config = Distill.Models.Checkpoints.Checkpoint.ReadConfig(path);
            if (key != "distill.model.student.init" && !config.IsLlava)
                return $"{key}: {path} holds a {config.ModelType} text model; a LLaVA (vision-language) model is needed";
            return null;
        }
        catch (Exception e) when (e is InvalidDataException or FileNotFoundException)
        {
            return $"{key}: {e.Message}";
        }
    }
}
