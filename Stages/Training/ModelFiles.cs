using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Stages.Text;
using Distill.Stages.Workspace;

namespace Distill.Stages.Training;

/// <summary>The one writer of a model directory a stage produces (teacher, every student, the export): the Hugging
/// Face checkpoint (model.safetensors, config.json, generation_config.json with the data's bos, eos and pad ids and
/// its generation budget), then the data's processing files (<see cref="PreparedData.SaveProcessingFiles"/>: the
/// tokenizer's files and <c>preprocessor_config.json</c>).</summary>
public static class ModelFiles
{
    public const string TokenizerFile = ProcessingFiles.Tokenizer;
    public const string TokenizerConfigFile = ProcessingFiles.TokenizerConfig;
    public const string PreprocessorFile = ProcessingFiles.Preprocessor;
    public const string SpecialTokensFile = ProcessingFiles.SpecialTokensMap;

    /// <summary>Every file a model directory may hold, in the order they are written (<see cref="SpecialTokensFile"/>
    /// only with a Hugging Face tokenizer that has one).</summary>
    public static readonly IReadOnlyList<string> Files =
        [Checkpoint.WeightsFile, Checkpoint.ConfigFile, HfConfigJson.GenerationFile, TokenizerFile, TokenizerConfigFile, SpecialTokensFile, PreprocessorFile];

    public static void Save(VisionLanguageModel model, PreparedData data, string directory)
    {
        Directory.CreateDirectory(directory);
        Checkpoint.Save(model, directory, new GenerationConfig(data.BosId, data.Stop.EosIds, data.PadId, data.Stop.MaxNewTokens));
        data.SaveProcessingFiles(directory);
    }
}
