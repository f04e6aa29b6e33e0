using System.Text.Json.Nodes;

namespace Distill.Stages.Text;

/// <summary>A copy of a tokenizer folder with LLaVA's <c>&lt;image&gt;</c> placeholder as a special added token after
/// its last id, as LLaVA builds add it to their base LM's tokenizer; a tokenizer that has it already is copied as it is.
/// The source folder is only read.</summary>
public static class ImageTokenTokenizer
{
    public static HfTokenizer Create(string sourceDir, string targetDir)
    {
        var file = Path.Combine(sourceDir, HfTokenizer.TokenizerFile);
        if (!File.Exists(file)) throw new FileNotFoundException($"tokenizer.json not found: {file}", file);
        if (Path.GetFullPath(sourceDir) == Path.GetFullPath(targetDir))
            throw new ArgumentException($"the copy must go to another folder than {sourceDir}", nameof(targetDir));
        var json = JsonNode.Parse(File.ReadAllText(file)) ?? throw new InvalidDataException($"{file}: JSON null");
        var added = json["added_tokens"]?.AsArray() ?? throw new InvalidDataException($"{file}: no 'added_tokens' list");
        if (!added.Any(t => t?["content"]?.GetValue<string>() == ConversationTemplate.ImageToken))
        {
            var vocab = json["model"]?["vocab"]?.AsObject().Select(p => p.Value!.GetValue<int>()) ?? [];
            var next = vocab.Concat(added.Select(t => t!["id"]!.GetValue<int>())).DefaultIfEmpty(-1).Max() + 1;
            added.Add(new JsonObject
            {
                ["id"] = next, ["content"] = ConversationTemplate.ImageToken, ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        }
        Directory.CreateDirectory(targetDir);
        File.WriteAllText(Path.Combine(targetDir, HfTokenizer.TokenizerFile), json.ToJsonString());
        foreach (var extra in (string[])["tokenizer_config.json", "special_tokens_map.json"])
            if (File.Exists(Path.Combine(sourceDir, extra))) File.Copy(Path.Combine(sourceDir, extra), Path.Combine(targetDir, extra), overwrite: true);
        return HfTokenizer.Load(targetDir);
    }
}
