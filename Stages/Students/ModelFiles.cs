using System.Text.Json;
using System.Text.Json.Nodes;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.IO;
using Distill.Stages.Text;

namespace Distill.Stages.Students;

/// <summary>The one writer of a model directory a stage produces (teacher, every student, the export): the Hugging
/// Face checkpoint (model.safetensors, config.json, generation_config.json with the tokenizer's bos, eos and pad
/// ids), the tokenizer (<c>tokenizer.json</c>, and <c>tokenizer_config.json</c> naming its special tokens) and
/// <c>preprocessor_config.json</c> (a CLIPImageProcessor of what the pipeline feeds the tower: images of the tower's
/// size, rescaled by 1/255 and normalised with mean = std = 0.5).</summary>
public static class ModelFiles
{
    public const string TokenizerFile = "tokenizer.json";
    public const string TokenizerConfigFile = "tokenizer_config.json";
    public const string PreprocessorFile = "preprocessor_config.json";

    /// <summary>Every file of a model directory, in the order they are written.</summary>
    public static readonly IReadOnlyList<string> Files =
        [Checkpoint.WeightsFile, Checkpoint.ConfigFile, HfConfigJson.GenerationFile, TokenizerFile, TokenizerConfigFile, PreprocessorFile];

    public static void Save(VisionLanguageModel model, WordTokenizer tokenizer, string directory)
    {
        Directory.CreateDirectory(directory);
        Checkpoint.Save(model, directory, new GenerationConfig(tokenizer.BosId, [tokenizer.EosId], tokenizer.PadId));
        tokenizer.Save(Path.Combine(directory, TokenizerFile));
        AtomicFile.WriteAllText(Path.Combine(directory, TokenizerConfigFile), TokenizerConfig(tokenizer));
        AtomicFile.WriteAllText(Path.Combine(directory, PreprocessorFile), Preprocessor(model.Config.Vision.ImageSize));
    }

    private static string TokenizerConfig(WordTokenizer tokenizer) => new JsonObject
    {
        ["tokenizer_class"] = "DistillWordTokenizer",
        ["tokenizer_format"] = WordTokenizer.Format,
        ["bos_token"] = tokenizer.Tokens[tokenizer.BosId],
        ["eos_token"] = tokenizer.Tokens[tokenizer.EosId],
        ["pad_token"] = tokenizer.Tokens[tokenizer.PadId],
        ["unk_token"] = tokenizer.Tokens[tokenizer.UnkId],
        ["image_token"] = tokenizer.Tokens[tokenizer.ImageId],
        ["add_bos_token"] = true,
        ["add_eos_token"] = false,
    }.ToJsonString(Indented);

    private static string Preprocessor(int size) => new JsonObject
    {
        ["image_processor_type"] = "CLIPImageProcessor",
        ["do_resize"] = true,
        ["size"] = new JsonObject { ["shortest_edge"] = size },
        ["resample"] = 3,
        ["do_center_crop"] = true,
        ["crop_size"] = new JsonObject { ["height"] = size, ["width"] = size },
        ["do_rescale"] = true,
        ["rescale_factor"] = 1.0 / 255,
        ["do_normalize"] = true,
        ["image_mean"] = new JsonArray(0.5, 0.5, 0.5),
        ["image_std"] = new JsonArray(0.5, 0.5, 0.5),
        ["do_convert_rgb"] = true,
    }.ToJsonString(Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
