using System.Text.Json;

namespace Distill.Stages.Data.Llava;

/// <summary>One POPE probe: a yes/no question about an object in an image, with its label; <see cref="Setting"/> is
/// random, popular or adversarial (from the record's <c>category</c>, else the file name, as POPE names its files
/// <c>coco_pope_random.json</c> and so on; null when neither says).</summary>
public sealed record PopeQuestion(string QuestionId, string Image, string Text, bool Label, string? Setting)
{
    public static readonly IReadOnlyList<string> Settings = ["random", "popular", "adversarial"];

    /// <summary>Reads a POPE file: one JSON object per line, <c>{"question_id", "image", "text", "label": "yes"|"no"}</c>
    /// (+ optional <c>category</c>), images relative to <paramref name="imageFolder"/>. Bad lines go to the budget.</summary>
    public static IEnumerable<PopeQuestion> Read(string file, string imageFolder, BadSampleBudget budget)
    {
        var path = Path.GetFullPath(file);
        if (!File.Exists(path)) throw new FileNotFoundException($"POPE file not found: {path}", path);
        var fromName = Settings.FirstOrDefault(s => Path.GetFileNameWithoutExtension(path).Contains(s, StringComparison.OrdinalIgnoreCase));
        return JsonLines.Read(path, budget, e => Parse(e, imageFolder, fromName));
    }

    private static (PopeQuestion?, string?) Parse(JsonElement e, string imageFolder, string? fromName)
    {
        if (e.ValueKind != JsonValueKind.Object) return (null, "expected a JSON object");
        var id = JsonLines.Text(e, "question_id");
        var image = JsonLines.Text(e, "image");
        var text = JsonLines.Text(e, "text");
        var label = JsonLines.Text(e, "label");
        if (id is null || image is null || text is null || label is null)
            return (null, "needs question_id, image, text and label");
        if (label is not ("yes" or "no")) return (null, $"label '{label}'; expected yes or no");
        var setting = JsonLines.Text(e, "category") ?? fromName;
        if (setting is not null && !Settings.Contains(setting)) return (null, $"category '{setting}'; expected one of {string.Join(", ", Settings)}");
        var (resolved, error) = ImagePaths.Resolve(imageFolder, image);
        if (error is not null) return (null, error);
        return (new PopeQuestion(id, resolved!, text, label == "yes", setting), null);
    }
}
