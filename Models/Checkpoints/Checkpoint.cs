using Distill.Models.Config;
using Distill.Models.IO;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Checkpoints;

/// <summary>A model directory: <c>model.safetensors</c> + HF-style <c>config.json</c>.</summary>
public static class Checkpoint
{
    public const string WeightsFile = "model.safetensors";
    public const string ConfigFile = "config.json";

    /// <summary>Writes model.safetensors (F32 as held) then config.json, each atomically (temp file + rename).</summary>
    public static void Save(VisionLanguageModel model, string directory)
    {
        Directory.CreateDirectory(directory);
        SaveWeights(model, Path.Combine(directory, WeightsFile));
        AtomicFile.WriteAllText(Path.Combine(directory, ConfigFile), LlavaConfigJson.ToJson(model.Config));
    }

    /// <summary>Builds the model from config.json and loads model.safetensors into it (strict: every tensor present,
    /// none extra, same shapes and dtypes).</summary>
    public static VisionLanguageModel Load(string directory)
    {
        var config = ReadConfig(directory);
        var model = new VisionLanguageModel(config);
        try
        {
            LoadWeights(model, Path.Combine(directory, WeightsFile));
        }
        catch
        {
            model.Dispose();
            throw;
        }
        return model;
    }

    /// <summary>Reads and parses <c>directory/config.json</c>.</summary>
    public static VlmConfig ReadConfig(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: checkpoint config not found.", path);
        return LlavaConfigJson.Parse(File.ReadAllText(path), path);
    }

    /// <summary>Writes a module's state dict to a safetensors file.</summary>
    public static void SaveWeights(nn.Module module, string path) =>
        SafeTensors.Write(path, module.state_dict().Select(kv => (kv.Key, kv.Value)),
            new Dictionary<string, string> { ["format"] = "pt" });

    /// <summary>Copies every tensor of a safetensors file into the module's state dict, strictly.</summary>
    public static void LoadWeights(nn.Module module, string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: checkpoint weights not found.", path);
        var state = module.state_dict();
        var loaded = SafeTensors.Read(path);
        try
        {
            var missing = state.Keys.Where(k => !loaded.ContainsKey(k)).ToList();
            if (missing.Count > 0)
                throw new InvalidDataException($"{path}: missing tensor(s): {string.Join(", ", missing)}.");
            var unexpected = loaded.Keys.Where(k => !state.ContainsKey(k)).ToList();
            if (unexpected.Count > 0)
                throw new InvalidDataException($"{path}: unexpected tensor(s): {string.Join(", ", unexpected)}.");
            foreach (var (name, target) in state)
            {
                var source = loaded[name];
                if (!source.shape.SequenceEqual(target.shape))
                    throw new InvalidDataException(
                        $"{path}: shape mismatch for tensor '{name}': file [{string.Join(",", source.shape)}], model [{string.Join(",", target.shape)}].");
                if (source.dtype != target.dtype)
                    throw new InvalidDataException(
                        $"{path}: dtype mismatch for tensor '{name}': file {SafeTensors.DTypeName(source.dtype)}, model {SafeTensors.DTypeName(target.dtype)}.");
            }
            using var noGrad = torch.no_grad();
            foreach (var (name, target) in state)
                target.copy_(loaded[name]);
        }
        finally
        {
            foreach (var t in loaded.Values) t.Dispose();
        }
    }
}
