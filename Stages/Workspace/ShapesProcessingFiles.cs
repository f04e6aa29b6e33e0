using System.Text.Json;
using System.Text.Json.Nodes;
using Distill.Models;
using Distill.Models.IO;
using Distill.Stages.Text;

namespace Distill.Stages.Workspace;

/// <summary>Shapes' processing files, written with every model of a Shapes run.</summary>
public static class ShapesProcessingFiles
{
    /// <summary>Shapes' processing files: the word tokenizer (<c>tokenizer.json</c>, <c>tokenizer_config.json</c> naming
    /// its special tokens) and a CLIPImageProcessor of what the pipeline feeds the tower.</summary>
    public static void Save(WordTokenizer tokenizer, ImageFormat format, string directory)
    {
        tokenizer.Save(Path.Combine(directory, ProcessingFiles.Tokenizer));
        AtomicFile.WriteAllText(Path.Combine(directory, ProcessingFiles.TokenizerConfig), TokenizerConfig(tokenizer));
        AtomicFile.WriteAllText(Path.Combine(directory, ProcessingFiles.Preprocessor), Preprocessor(format));
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

    private static string Preprocessor(ImageFormat format) => new JsonObject
    {
        ["image_processor_type"] = "CLIPImageProcessor",
        ["do_resize"] = true,
        ["size"] = new JsonObject { ["shortest_edge"] = format.Size },
        ["resample"] = 3,
        ["do_center_crop"] = true,
        ["crop_size"] = new JsonObject { ["height"] = format.Size, ["width"] = format.Size },
        ["do_rescale"] = true,
        ["rescale_factor"] = format.RescaleFactor,
        ["do_normalize"] = true,
        ["image_mean"] = new JsonArray(format.Mean.Select(v => (JsonNode)v).ToArray()),
        ["image_std"] = new JsonArray(format.Std.Select(v => (JsonNode)v).ToArray()),
        ["do_convert_rgb"] = true,
    }.ToJsonString(Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
