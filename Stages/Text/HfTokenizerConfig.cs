namespace Distill.Stages.Text;

/// <summary>What a Hugging Face tokenizer folder's <c>tokenizer_config.json</c> (and, for tokens it does not name,
/// <c>special_tokens_map.json</c>) says of the BOS, EOS and pad tokens and of adding BOS/EOS. A token is a string or
/// an object with <c>content</c>; both files are optional.</summary>
public sealed record HfTokenizerConfig(string? BosToken, string? EosToken, string? PadToken, bool? AddBosToken, bool? AddEosToken)
{
    public const string ConfigFile = "tokenizer_config.json", SpecialTokensFile = "special_tokens_map.json";

    public static HfTokenizerConfig Read(string directory)
    {
        var config = ReadRoot(Path.Combine(directory, ConfigFile));
        var map = ReadRoot(Path.Combine(directory, SpecialTokensFile));
        string? Token(string key) => TokenOf(config, key) ?? TokenOf(map, key);
        return new HfTokenizerConfig(Token("bos_token"), Token("eos_token"), Token("pad_token"),
            Flag(config, "add_bos_token"), Flag(config, "add_eos_token"));
    }

    private static TokenizerJsonNode? ReadRoot(string file) =>
        File.Exists(file) ? TokenizerJsonNode.ReadFile(file, File.ReadAllBytes(file)) : null;

    private static string? TokenOf(TokenizerJsonNode? root, string key)
    {
        if (root is not { } node) return null;
        var token = node.Optional(key);
        if (token.IsNull) return null;
        return token.Value.ValueKind == System.Text.Json.JsonValueKind.Object ? token.Required("content").String() : token.String();
    }

    private static bool? Flag(TokenizerJsonNode? root, string key)
    {
        if (root is not { } node) return null;
        var flag = node.Optional(key);
        return flag.IsNull ? null : flag.Bool(false);
    }
}
