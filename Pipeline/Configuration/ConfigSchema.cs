using Distill.Models.Devices;
using Distill.Stages.Arrow;
using Distill.Stages.Losses;

namespace Distill.Pipeline.Configuration;

/// <summary>Every key under <c>distill</c> with its type and constraints (declared on the settings records). <c>hocon/pipeline.conf</c> must list
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

    public static readonly IReadOnlyList<string> ChatTemplateNames = ["auto", .. Distill.Stages.Text.ConversationTemplates.Names];

    /// <summary>All keys, in the order of <c>pipeline.conf</c> (the resolved config is written in this order), as the
    /// settings records declare them (<see cref="Declaration.SettingsTree"/>).</summary>
    public static IReadOnlyList<SchemaKey> Keys => Declaration.SettingsTree.Keys;

    /// <summary>The cluster's host must be reachable by other nodes; a seed must be a Distill node's address, of a TLS
    /// cluster unless <c>insecure</c>. TLS: a non-loopback host needs the CA and this node's certificate unless
    /// <c>insecure = true</c>; the CA and the certificate go together, a key only with a certificate, and certificates
    /// not with <c>insecure</c>. Whether the files can be used is checked by the node that uses them when it starts
    /// (<see cref="Cluster.ClusterSecurity"/>): a teacher node reads the coordinator's configuration, whose paths
    /// need not exist on its machine.</summary>
    private static IEnumerable<string> ClusterChecks(Func<string, object?> get)
    {
        long? number(string p) => get(p) as long?;
        string? text(string p) => get(p) as string;
        var host = text("distill.cluster.host");
        if (host is not null && host.Trim() is "0.0.0.0" or "::" or "*")
            yield return $"distill.cluster.host: '{host}' binds every interface but is no address other nodes can reach; give this machine's address (127.0.0.1 for one machine)";
        var insecure = get("distill.cluster.insecure") as bool?;
        if (text("distill.cluster.seed") is { Length: > 0 } seed && Cluster.ClusterAddress.Check(seed, insecure is null ? null : !insecure) is { } problem)
            yield return $"distill.cluster.seed: {problem}";
        var basePort = number("distill.cluster.teacher.base-port");
        var coordinatorPort = number("distill.cluster.coordinator.port");
        if (basePort is > 0 && coordinatorPort is > 0 && basePort == coordinatorPort)
            yield return $"distill.cluster.teacher.base-port ({basePort}) must differ from distill.cluster.coordinator.port ({coordinatorPort})";

        var ca = text("distill.cluster.tls.ca");
        var certificate = text("distill.cluster.tls.certificate");
        var key = text("distill.cluster.tls.key");
        if (ca is null || certificate is null || key is null || insecure is null) yield break;
        if (insecure == true)
        {
            foreach (var (name, value) in new[] { ("ca", ca), ("certificate", certificate), ("key", key) })
                if (value.Length > 0)
                    yield return $"distill.cluster.insecure = true turns TLS off, but distill.cluster.tls.{name} is set ('{value}'): unset one of them";
            yield break;
        }
        if (certificate.Length > 0 && ca.Length == 0)
            yield return "distill.cluster.tls.certificate needs distill.cluster.tls.ca: the CA that signed every node's certificate, which a peer's must chain to";
        if (ca.Length > 0 && certificate.Length == 0)
            yield return "distill.cluster.tls.ca needs distill.cluster.tls.certificate: this node's own certificate, signed by that CA (PKCS#12, or PEM with distill.cluster.tls.key)";
        if (key.Length > 0 && certificate.Length == 0)
            yield return "distill.cluster.tls.key is the private key of a PEM distill.cluster.tls.certificate, which is not set";
        if (host is { Length: > 0 } && certificate.Length == 0 && ca.Length == 0 && !Cluster.ClusterSecurity.IsLoopback(host))
            yield return $"distill.cluster.host '{host}' is not a loopback address, so the cluster runs TLS with mutual authentication: set " +
                         "distill.cluster.tls.ca (the CA) and distill.cluster.tls.certificate (this node's certificate signed by it), " +
                         "or distill.cluster.insecure = true to run without TLS (any process that can reach the port could join)";
    }

    // Lazy: the declarations read the word lists above, so the schema is derived only after this class is initialised.
    private static readonly Lazy<Dictionary<string, SchemaKey>> ByPath = new(() => Keys.ToDictionary(k => k.Path, StringComparer.Ordinal));
    private static readonly Lazy<HashSet<string>> SectionSet = new(() => Keys.SelectMany(k => Prefixes(k.Path)).ToHashSet(StringComparer.Ordinal));

    /// <summary>Sections (objects): <c>distill</c>, <c>distill.data</c>, <c>distill.model.vision</c>, ...</summary>
    public static IReadOnlySet<string> Sections => SectionSet.Value;

    public static SchemaKey? Find(string path) => ByPath.Value.GetValueOrDefault(path);

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

        foreach (var error in ClusterChecks(get)) yield return error;

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
