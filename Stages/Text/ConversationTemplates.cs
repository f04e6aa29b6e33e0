using System.Text.Json;

namespace Distill.Stages.Text;

/// <summary>The chat templates by name, and detection from a tokenizer folder's <c>tokenizer_config.json</c>.</summary>
public static class ConversationTemplates
{
    public static readonly IReadOnlyList<string> Names = ["vicuna_v1", "chatml", "llama3"];

    /// <summary>The template called <paramref name="name"/>; another name is refused listing the supported ones.</summary>
    public static ConversationTemplate ByName(string name) => name switch
    {
        "vicuna_v1" => new VicunaV1Template(),
        "chatml" => new ChatMlTemplate(),
        "llama3" => new Llama3Template(),
        _ => throw new ArgumentException($"chat template '{name}' is not supported; supported: {string.Join(", ", Names)}"),
    };

    /// <summary>The template a folder's tokenizer_config.json <c>chat_template</c> is written in (by its markers:
    /// <c>&lt;|im_start|&gt;</c>, <c>&lt;|start_header_id|&gt;</c>, <c>USER:</c> and <c>ASSISTANT:</c>), or null when the
    /// file, the key or a known marker is missing (then it must be named).</summary>
    public static string? Detect(string tokenizerFolder)
    {
        var path = Path.Combine(tokenizerFolder, "tokenizer_config.json");
        if (!File.Exists(path)) return null;
        string? template;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            template = doc.RootElement.TryGetProperty("chat_template", out var t) ? t.ValueKind switch
            {
                JsonValueKind.String => t.GetString(),
                JsonValueKind.Array => string.Concat(t.EnumerateArray().Select(e => e.TryGetProperty("template", out var x) ? x.GetString() : "")),
                _ => null,
            } : null;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: malformed JSON", e);
        }
        if (template is null) return null;
        if (template.Contains("<|im_start|>", StringComparison.Ordinal)) return "chatml";
        if (template.Contains("<|start_header_id|>", StringComparison.Ordinal)) return "llama3";
        if (template.Contains("USER:", StringComparison.Ordinal) && template.Contains("ASSISTANT:", StringComparison.Ordinal)) return "vicuna_v1";
        return null;
    }
}
