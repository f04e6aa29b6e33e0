using Distill.Models.Devices;

namespace Distill.Pipeline.Configuration;

/// <summary>Every key under <c>distill</c> with its type and constraints. <c>hocon/pipeline.conf</c> must list
/// exactly these keys (a test checks both directions), so the schema cannot drift from the defaults.</summary>
public static class ConfigSchema
{
    public const string RootKey = "distill";

    public static readonly IReadOnlyList<string> StageNames = ["teacher", "mimic", "mod", "eval"];
    public static readonly IReadOnlyList<string> FamilyNames = ["colour", "shape", "count", "existence", "caption"];
    public static readonly IReadOnlyList<string> ScopeNames = ["response", "all"];

    private const long Big = 100_000_000;

    /// <summary>All keys, in the order of <c>pipeline.conf</c> (the resolved config is written in this order).</summary>
    public static IReadOnlyList<SchemaKey> Keys { get; } =
    [
        new StringKey("distill.run-dir", Description: "run directory; empty = runs/<yyyyMMdd-HHmmss>-<preset>"),
        new IntKey("distill.seed", 0, int.MaxValue),
        new EnumListKey("distill.stages", StageNames),
        new IntKey("distill.torch-threads", 0, 1024, "0 = number of cores"),
        new EnumKey("distill.device", DeviceSelector.Names, "auto = cuda when available, else cpu"),

        new StringKey("distill.data.dir", Description: "empty = <run-dir>/data"),
        new IntKey("distill.data.image-size", 8, 1024),
        new IntKey("distill.data.train-scenes", 1, Big),
        new IntKey("distill.data.val-scenes", 1, Big),
        new IntKey("distill.data.test-scenes", 1, Big),
        new IntKey("distill.data.questions-per-scene", 1, 64),
        new IntKey("distill.data.min-objects", 1, 6),
        new IntKey("distill.data.max-objects", 1, 6),
        new EnumListKey("distill.data.families", FamilyNames),

        new IntKey("distill.model.vision.patch-size", 1, 256),
        new IntKey("distill.model.vision.hidden-size", 1, 65536),
        new IntKey("distill.model.vision.intermediate-size", 1, 262144),
        new IntKey("distill.model.vision.layers", 1, 256),
        new IntKey("distill.model.vision.heads", 1, 1024),
        new IntKey("distill.model.vision.select-layer", -256, 255, "negative counts from the last layer (-1 = last)"),
        .. Decoder("teacher"),
        .. Decoder("student"),
        new DoubleKey("distill.model.rope-theta", 0, double.PositiveInfinity, MinExclusive: true),
        new IntKey("distill.model.max-positions", 8, 1 << 20),

        new StringKey("distill.teacher.checkpoint", Description: "empty = pretrain"),
        new IntKey("distill.teacher.epochs", 1, 100_000),
        .. Optimiser("teacher"),
        new IntKey("distill.teacher.top-k", 1, 4096),

        new IntKey("distill.mimic.epochs", 1, 100_000),
        .. Optimiser("mimic"),
        new DoubleKey("distill.mimic.kd-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new DoubleKey("distill.mimic.ce-weight", 0, double.PositiveInfinity, MinExclusive: false),
        new EnumKey("distill.mimic.scope", ScopeNames),

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

        new IntKey("distill.parallelism.loaders", 1, 256),
        new IntKey("distill.parallelism.teacher-workers", 1, 256),
        new IntKey("distill.parallelism.credit-window", 1, 4096),
        new IntKey("distill.parallelism.shard-size", 1, 65536),

        new IntKey("distill.transport.max-batch-bytes", 64 * 1024, 1L << 30),
    ];

    private static IEnumerable<SchemaKey> Decoder(string which) =>
    [
        new IntKey($"distill.model.{which}.hidden-size", 1, 65536),
        new IntKey($"distill.model.{which}.intermediate-size", 1, 262144),
        new IntKey($"distill.model.{which}.layers", 1, 256),
        new IntKey($"distill.model.{which}.heads", 1, 1024),
        new IntKey($"distill.model.{which}.kv-heads", 1, 1024),
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
                foreach (var needy in stages.Where(s => s is "mimic" or "mod" or "eval"))
                    yield return $"distill.stages: '{needy}' needs a teacher: add 'teacher' before it or set distill.teacher.checkpoint";
            }
        }

        if (S("distill.device") == "cuda" && !DeviceSelector.BuiltWithCuda)
            yield return DeviceSelector.CudaUnavailableMessage();

        var checkpointPath = S("distill.teacher.checkpoint");
        if (!string.IsNullOrEmpty(checkpointPath) && !Directory.Exists(checkpointPath))
            yield return $"distill.teacher.checkpoint: directory '{checkpointPath}' does not exist";

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

        if (get("distill.mimic.kd-weight") is double kd && get("distill.mimic.ce-weight") is double ce && kd == 0 && ce == 0)
            yield return "distill.mimic.kd-weight and distill.mimic.ce-weight are both 0: the student would learn nothing";

        foreach (var error in ModCrossChecks(get, stages)) yield return error;
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
}
