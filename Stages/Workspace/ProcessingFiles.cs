namespace Distill.Stages.Workspace;

/// <summary>The file names of what a model directory needs to process inputs: the tokenizer's and the image
/// processor's, as Hugging Face names them.</summary>
public static class ProcessingFiles
{
    public const string Tokenizer = "tokenizer.json";
    public const string TokenizerConfig = "tokenizer_config.json";
    public const string SpecialTokensMap = "special_tokens_map.json";
    public const string Preprocessor = "preprocessor_config.json";
}
