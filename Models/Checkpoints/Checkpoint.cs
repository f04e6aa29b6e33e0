using Distill.Models.Config;
using Distill.Models.IO;
using Distill.Models.Language;
using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Checkpoints;

/// <summary>A Hugging Face model directory in and out: <c>config.json</c> (+ <c>generation_config.json</c>) and
/// <c>model.safetensors</c> (or a sharded index). Every model Distill saves is one that transformers'
/// <c>from_pretrained</c> loads and computes the same with (see <see cref="HfConfigJson"/> for Distill's MoE and MoD
/// extensions), and every such directory of a supported model type loads here.
/// <para>Loading builds the model the config describes on the requested device and dtype and reads every tensor
/// into it, one at a time (F32, F16 and BF16 files, converted to the model's dtype; a checkpoint is never held twice in
/// memory). Before any tensor is read, everything that does not fit is listed at once: missing tensors, unexpected
/// ones, shape mismatches (each with the file's shape and the model's), and unsupported dtypes.</para></summary>
public static class Checkpoint
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = HfConfigJson.ConfigFile;

    /// <summary>Reads and validates <c>directory/config.json</c> (and generation_config.json).</summary>
    public static CheckpointConfig ReadConfig(string directory) => HfConfigJson.Read(directory);

    /// <summary>Loads a LLaVA model directory.</summary>
    public static VisionLanguageModel Load(string directory, Placement? placement = null)
    {
        var config = ReadConfig(directory);
        if (config.Vlm is not { } vlm)
            throw new InvalidDataException(
                $"{Path.Combine(directory, ConfigFile)}: model_type '{config.ModelType}' is a text model, not llava (LlavaForConditionalGeneration); a vision-language model is needed here.");
        var model = new VisionLanguageModel(vlm, ToFill(placement));
        return Filled(model, () => LoadWeights(model, directory, vlm.Text, llava: true));
    }

    /// <summary>Loads a causal LM directory (llama, qwen2, mistral, mixtral), or the language model of a LLaVA one.</summary>
    public static LlamaForCausalLM LoadCausalLm(string directory, Placement? placement = null)
    {
        var config = ReadConfig(directory);
        if (config.Vlm is not null)
        {
            using var llava = Load(directory, placement);
            var decoder = DecoderFactory.Create(llava.Config.Text, ToFill(placement));
            return Filled(decoder, () => CopyState(llava.LanguageModel, decoder));
        }
        var text = DecoderFactory.Create(config.Text!, ToFill(placement));
        return Filled(text, () => LoadWeights(text, directory, config.Text!, llava: false));
    }

    /// <summary>The placement a loaded model is built in: the caller's, without random initialisation (the checkpoint
    /// overwrites every weight; the few it may lack are initialised by <see cref="InitialiseOptional"/>).</summary>
    private static Placement ToFill(Placement? placement) => (placement ?? Placement.Cpu) with { Initialize = false };

    /// <summary>Writes a LLaVA model directory: model.safetensors, then config.json and generation_config.json, each
    /// atomically.</summary>
    public static void Save(VisionLanguageModel model, string directory, GenerationConfig? generation = null)
    {
        var config = model.Config;
        Directory.CreateDirectory(directory);
        WriteExport(directory, ExportedTensors(model, config.Text, llava: true));
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), HfConfigJson.Write(config, generation, HfConfigJson.TorchDTypeName(model.DType)));
        if (generation is not null) AtomicFile.WriteAllText(Path.Combine(directory, HfConfigJson.GenerationFile), HfConfigJson.WriteGeneration(generation));
    }

    /// <summary>Writes a causal LM directory (as <see cref="Save(VisionLanguageModel, string, GenerationConfig?)"/>).</summary>
    public static void Save(LlamaForCausalLM model, string directory, GenerationConfig? generation = null)
    {
        Directory.CreateDirectory(directory);
        WriteExport(directory, ExportedTensors(model, model.Config, llava: false));
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), HfConfigJson.Write(model.Config, generation,
            HfConfigJson.TorchDTypeName(model.Model.EmbedTokens.weight!.dtype)));
        if (generation is not null) AtomicFile.WriteAllText(Path.Combine(directory, HfConfigJson.GenerationFile), HfConfigJson.WriteGeneration(generation));
    }

    /// <summary>Writes a module's state dict to a safetensors file under its own names (training state, not an HF
    /// export).</summary>
    public static void SaveWeights(nn.Module module, string path) =>
        SaveTensors(path, module.state_dict().Select(kv => (kv.Key, kv.Value)));

    /// <summary>Copies every tensor of a safetensors file written by <see cref="SaveWeights"/> into the module's state
    /// dict, strictly (every tensor present, none extra, same shapes and dtypes), one tensor at a time.</summary>
    public static void LoadWeights(nn.Module module, string path)
    {
        using var files = CheckpointFiles.OpenFile(path);
        path = files.Source;
        var state = module.state_dict();
        var missing = state.Keys.Where(k => !files.Tensors.ContainsKey(k)).ToList();
        if (missing.Count > 0)
            throw new InvalidDataException($"{path}: missing tensor(s): {string.Join(", ", missing)}.");
        var unexpected = files.Tensors.Keys.Where(k => !state.ContainsKey(k)).ToList();
        if (unexpected.Count > 0)
            throw new InvalidDataException($"{path}: unexpected tensor(s): {string.Join(", ", unexpected)}.");
        foreach (var (name, target) in state)
        {
            var stored = files.Tensors[name];
            if (!stored.Shape.SequenceEqual(target.shape))
                throw new InvalidDataException(
                    $"{path}: shape mismatch for tensor '{name}': file [{string.Join(",", stored.Shape)}], model [{string.Join(",", target.shape)}].");
            if (SafeTensors.TryScalarTypeOf(stored.DType) != target.dtype)
                throw new InvalidDataException(
                    $"{path}: dtype mismatch for tensor '{name}': file {stored.DType}, model {SafeTensors.DTypeName(target.dtype)}.");
        }
        foreach (var (name, target) in state)
            files.ReadInto(name, target);
    }

    private static readonly string[] FloatDTypes = ["F32", "F16", "BF16", "F64"];

    /// <summary>Reads an HF checkpoint into <paramref name="module"/>: file names mapped to module names
    /// (<see cref="WeightNames"/>), the dense layers of a Mixtral export collapsed back to their FFN, everything checked
    /// before anything is read.</summary>
    private static void LoadWeights(nn.Module module, string directory, DecoderConfig text, bool llava)
    {
        using var files = CheckpointFiles.Open(directory);
        var fileOf = FileNames(files, text);                                     // Mixtral-named -> name in the file
        var state = module.state_dict();
        var sources = new Dictionary<string, string>(StringComparer.Ordinal);   // module name -> file name
        var unexpected = new List<string>();
        var denseLayers = WeightNames.DenseLayers(text).ToHashSet();
        var expertCopies = new List<(string Reference, string Copy)>();        // Mixtral experts that must equal expert 0
        var zeroGates = new List<string>();
        var weightsFile = files.Source;
        foreach (var fileName in fileOf.Keys)
        {
            var name = WeightNames.ToModule(fileName, llava);
            if (state.ContainsKey(name)) { sources[name] = fileName; continue; }
            if (text.TieWordEmbeddings && name.EndsWith("lm_head.weight", StringComparison.Ordinal)) continue; // tied: the embedding is the head
            if (WeightNames.LayerOf(name) is { } layer && denseLayers.Contains(layer) && name.Contains(".block_sparse_moe.", StringComparison.Ordinal))
                continue; // claimed below
            if (!WeightNames.IsIgnorable(fileName)) unexpected.Add(fileName);
        }
        foreach (var layer in denseLayers)
        {
            for (var expert = 0; expert < text.Moe!.Experts; expert++)
                foreach (var (dense, expertName) in WeightNames.DenseAsExpert(llava, layer, expert))
                {
                    var fileName = fileOf.Keys.FirstOrDefault(k => WeightNames.ToModule(k, llava) == expertName);
                    if (fileName is null) continue; // reported missing below (through the dense name of expert 0)
                    if (expert == 0) sources[dense] = fileName;
                    else expertCopies.Add((sources.GetValueOrDefault(dense, ""), fileName));
                }
            var gate = fileOf.Keys.FirstOrDefault(k => WeightNames.ToModule(k, llava) == WeightNames.MixtralGate(llava, layer));
            if (gate is not null) zeroGates.Add(gate);
        }

        var problems = new List<string>();
        var missing = state.Keys.Where(k => !sources.ContainsKey(k) && !WeightNames.IsOptional(k)).ToList();
        if (missing.Count > 0) problems.Add($"{missing.Count} missing tensor(s): {Listed(missing)}");
        if (unexpected.Count > 0) problems.Add($"{unexpected.Count} unexpected tensor(s): {Listed(unexpected)}");
        foreach (var (name, fileName) in sources)
        {
            var stored = files.Tensors[fileOf[fileName]];
            if (!stored.Shape.SequenceEqual(state[name].shape))
                problems.Add($"tensor '{fileName}' has shape [{string.Join(",", stored.Shape)}] in the file, the model expects [{string.Join(",", state[name].shape)}]");
        }
        foreach (var stored in sources.Values.Select(f => files.Tensors[fileOf[f]]).Where(t => !FloatDTypes.Contains(t.DType)))
            problems.Add($"tensor '{stored.Name}' is {stored.DType}; Distill loads F32, F16 and BF16 weights (not quantised ones)");
        if (problems.Count > 0)
            throw new InvalidDataException($"{weightsFile} does not fit the model config.json describes: {string.Join("; ", problems)}.");

        using var noGrad = torch.no_grad();
        foreach (var (name, fileName) in sources) files.ReadInto(fileOf[fileName], state[name]);
        foreach (var name in state.Keys.Where(k => !sources.ContainsKey(k) && WeightNames.IsOptional(k))) InitialiseOptional(name, state[name]);
        CheckCollapsedExperts(files, fileOf, expertCopies, zeroGates, sources, state, weightsFile);
    }

    /// <summary>The file's tensor names under the names loading works with: a Qwen2-MoE file's MoE tensors under their
    /// Mixtral names (<see cref="WeightNames.FromQwen2Moe"/>), its shared experts left out once checked to be zero-width
    /// (what Distill writes; anything else adds to every token and is refused).</summary>
    private static Dictionary<string, string> FileNames(CheckpointFiles files, DecoderConfig text)
    {
        var qwen = WeightNames.Qwen2MoeLayout(text);
        var fileOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (fileName, stored) in files.Tensors)
        {
            if (qwen && WeightNames.IsQwen2MoeSharedExpert(fileName))
            {
                if (!fileName.Contains(".shared_expert_gate.", StringComparison.Ordinal) && stored.Shape.All(d => d != 0))
                    throw new InvalidDataException($"{files.Source}: shared expert '{fileName}' is [{string.Join(",", stored.Shape)}]; Distill supports only zero-width shared experts");
                continue;
            }
            fileOf[qwen ? WeightNames.FromQwen2Moe(fileName) : fileName] = fileName;
        }
        return fileOf;
    }

    /// <summary>A tensor a checkpoint may lack (<see cref="WeightNames.IsOptional"/>: parts LLaVA never runs) gets values
    /// as HF initialises them: norm weights 1, biases 0, other weights normal(0, 0.02).</summary>
    private static void InitialiseOptional(string name, Tensor tensor)
    {
        if (name.EndsWith(".bias", StringComparison.Ordinal)) tensor.zero_();
        else if (name.Contains("norm", StringComparison.Ordinal)) tensor.fill_(Scalars.One);
        else tensor.normal_(0, 0.02);
    }

    /// <summary>A dense layer of a Mixtral export must hold the same FFN in every expert behind a zero router, or it
    /// was not a dense layer: then collapsing it would change what the model computes.</summary>
    private static void CheckCollapsedExperts(CheckpointFiles files, Dictionary<string, string> fileOf, List<(string Reference, string Copy)> copies,
        List<string> gates, Dictionary<string, string> sources, IDictionary<string, Tensor> state, string weightsFile)
    {
        var moduleOf = sources.ToDictionary(kv => kv.Value, kv => kv.Key);
        foreach (var (reference, copy) in copies)
        {
            using var scope = torch.NewDisposeScope();
            var target = state[moduleOf[reference]];
            var other = torch.empty_like(target);
            files.ReadInto(fileOf[copy], other);
            if (!Scalars.ToBoolean(torch.equal(other, target).all()))
                throw new InvalidDataException(
                    $"{weightsFile}: '{fileOf[copy]}' differs from '{fileOf[reference]}', but distill_moe.layers lists its layer as dense (all experts the same FFN).");
        }
        foreach (var gate in gates)
        {
            using var scope = torch.NewDisposeScope();
            var stored = files.Tensors[fileOf[gate]];
            var values = torch.empty(stored.Shape);
            files.ReadInto(fileOf[gate], values);
            if (Scalars.ToDouble(values.abs().max()) != 0)
                throw new InvalidDataException(
                    $"{weightsFile}: router '{fileOf[gate]}' is not zero, but distill_moe.layers lists its layer as dense (a zero router over identical experts).");
        }
    }

    /// <summary>The tensors transformers expects: the module's state dict, and for an MoE decoder exported as Mixtral
    /// the dense layers as E copies of their FFN behind a zero router (<c>block_sparse_moe.gate</c>,
    /// <c>experts.j.w1/w2/w3</c>).</summary>
    private static IEnumerable<(string Name, Tensor Tensor)> ExportedTensors(nn.Module module, DecoderConfig text, bool llava)
    {
        if (!WeightNames.Qwen2MoeLayout(text)) return MixtralTensors(module, text, llava);
        // Qwen2-MoE: the same tensors under its names, plus a zero-width shared expert (and its gate) on every layer.
        var reference = module.parameters().First();
        return MixtralTensors(module, text, llava).Select(t => (WeightNames.ToQwen2Moe(t.Name), t.Tensor))
            .Concat(Enumerable.Range(0, text.Layers).SelectMany(layer => WeightNames.Qwen2MoeSharedExpert(llava, layer).Select(name =>
                (name, name.EndsWith("shared_expert_gate.weight", StringComparison.Ordinal)
                    ? torch.zeros(1, text.HiddenSize, reference.dtype, reference.device)
                    : name.EndsWith("down_proj.weight", StringComparison.Ordinal)
                        ? torch.zeros(text.HiddenSize, 0, reference.dtype, reference.device)
                        : torch.zeros(0, text.HiddenSize, reference.dtype, reference.device)))));
    }

    private static IEnumerable<(string Name, Tensor Tensor)> MixtralTensors(nn.Module module, DecoderConfig text, bool llava)
    {
        var state = module.state_dict();
        var dense = WeightNames.DenseLayers(text).ToHashSet();
        var asExperts = dense.SelectMany(layer => WeightNames.DenseAsExpert(llava, layer, 0).Select(p => p.Dense)).ToHashSet();
        foreach (var (name, tensor) in state)
            if (!asExperts.Contains(name)) yield return (name, tensor);
        foreach (var layer in dense)
        {
            for (var expert = 0; expert < text.Moe!.Experts; expert++)
                foreach (var (denseName, expertName) in WeightNames.DenseAsExpert(llava, layer, expert))
                    yield return (expertName, state[denseName]);
            var reference = state[WeightNames.DenseAsExpert(llava, layer, 0).First().Dense];
            // A zero router: the caller's dispose scope frees it after the write.
            yield return (WeightNames.MixtralGate(llava, layer), torch.zeros(text.Moe.Experts, text.HiddenSize, reference.dtype, reference.device));
        }
    }

    /// <summary>The weights of an export: model.safetensors, or shards of at most 5 GB with an index, as transformers.</summary>
    private static void WriteExport(string directory, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var scope = torch.NewDisposeScope();
        CheckpointWriter.Write(directory, tensors, null, CheckpointWriter.TransformersMaxShardBytes);
    }

    private static void SaveTensors(string path, IEnumerable<(string Name, Tensor Tensor)> tensors)
    {
        using var scope = torch.NewDisposeScope();
        SafeTensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
    }

    private static void CopyState(nn.Module source, nn.Module target)
    {
        using var noGrad = torch.no_grad();
        var from = source.state_dict();
        foreach (var (name, tensor) in target.state_dict()) tensor.copy_(from[name]);
    }

    private static T Filled<T>(T model, Action fill) where T : nn.Module
    {
        try
        {
            fill();
            return model;
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static string Listed(IReadOnlyList<string> names) =>
        string.Join(", ", names.Take(20)) + (names.Count > 20 ? $", ... ({names.Count - 20} more)" : "");
}
