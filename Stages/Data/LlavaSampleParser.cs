using System.Text.Json;

namespace Distill.Stages.Data;

/// <summary>Turns one element of a LLaVA conversation JSON list into a <see cref="QuestionSample"/>, naming the file
/// and the sample id (or its index when the id itself is bad) in every error.</summary>
internal static class LlavaSampleParser
{
    public static List<QuestionSample> ParseFile(string path)
    {
        using var doc = ShapesJson.ReadDocument(path);
        if (doc.RootElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{path}: expected a JSON list of samples, found {doc.RootElement.ValueKind}");
        var samples = new List<QuestionSample>(doc.RootElement.GetArrayLength());
        var ids = new HashSet<string>(StringComparer.Ordinal);
        int index = 0;
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            var sample = Parse(e, path, index++);
            if (!ids.Add(sample.Id)) throw new InvalidDataException($"{path}: sample id '{sample.Id}' appears twice");
            samples.Add(sample);
        }
        return samples;
    }

    private static QuestionSample Parse(JsonElement e, string path, int index)
    {
        if (e.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: sample #{index} is {e.ValueKind}, expected an object");
        string id = String(e, "id", $"{path}: sample #{index}");
        string where = $"{path}: sample '{id}'";
        string image = String(e, "image", where);
        string task = String(e, "task", where);
        if (!e.TryGetProperty("conversations", out var conv) || conv.ValueKind != JsonValueKind.Array || conv.GetArrayLength() < 2)
            throw new InvalidDataException($"{where}: 'conversations' must be a list of at least two turns");
        var turns = conv.EnumerateArray().Select((t, i) =>
        {
            if (t.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: turn {i} is not an object");
            return new Turn(String(t, "from", $"{where} turn {i}"), String(t, "value", $"{where} turn {i}"));
        }).ToList();
        if (turns[0].From != "human" || turns[1].From != "gpt")
            throw new InvalidDataException($"{where}: expected a 'human' turn then a 'gpt' turn, found '{turns[0].From}', '{turns[1].From}'");
        if (!turns[0].Value.StartsWith(QuestionSample.ImagePrefix, StringComparison.Ordinal))
            throw new InvalidDataException($"{where}: the human turn must start with \"<image>\\n\"");
        string question = turns[0].Value[QuestionSample.ImagePrefix.Length..];
        string answer = e.TryGetProperty("answer", out var a) && a.ValueKind == JsonValueKind.String ? a.GetString()! : turns[1].Value;
        string? probe = null;
        if (e.TryGetProperty("probe", out var p) && p.ValueKind != JsonValueKind.Null)
        {
            probe = p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            if (probe is null || !ShapesVocabulary.ProbeSettings.Contains(probe))
                throw new InvalidDataException(
                    $"{where}: 'probe' must be one of {string.Join(", ", ShapesVocabulary.ProbeSettings)}, found {p}");
        }
        return new QuestionSample(id, image, task, question, answer, turns) { Probe = probe };
    }

    private static string String(JsonElement e, string name, string where) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
            ? s
            : throw new InvalidDataException($"{where}: missing or non-string '{name}'");
}
