using System.Text.Json;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Text;
using Distill.Stages.Workspace;

namespace Distill.Stages.Preference;

/// <summary>Preference pairs from a file in the RLAIF-V style: JSON lines (one object per line) or one JSON list of
/// objects, each with <c>image</c> (a path, absolute or relative to the file's folder), <c>question</c> (a leading
/// "&lt;image&gt;" is dropped: the chat template places the image), <c>chosen</c> and <c>rejected</c> (the responses)
/// and optionally <c>id</c> or <c>idx</c> (string or number; else the sample id is "file:line" or "file#index").
/// Every error names the file and the line (JSON lines) or the sample's index (a JSON list).</summary>
public static class PreferenceDatasetFile
{
    public static IReadOnlyList<CandidateRow> Read(string path, PreparedData data)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Preference dataset file not found: {path}", path);
        string text = File.ReadAllText(path);
        string name = Path.GetFileName(path);
        string folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var entries = text.TrimStart().StartsWith('[') ? ListEntries(path, text) : LineEntries(path, text);
        var rows = new List<CandidateRow>(entries.Count);
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (where, fallbackId, element) in entries)
        {
            var row = Parse(element, where, fallbackId, name, folder, data);
            if (seen.TryGetValue(row.SampleId, out var first))
                throw new InvalidDataException($"{where}: id '{row.SampleId}' was already used at {first}");
            seen[row.SampleId] = where;
            rows.Add(row);
        }
        return rows;
    }

    private static List<(string Where, string FallbackId, JsonElement Element)> LineEntries(string path, string text)
    {
        var entries = new List<(string, string, JsonElement)>();
        var lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0) continue;
            string where = $"{path}:{i + 1}";
            try
            {
                using var doc = JsonDocument.Parse(line);
                entries.Add((where, $"{Path.GetFileName(path)}:{i + 1}", doc.RootElement.Clone()));
            }
            catch (JsonException e) { throw new InvalidDataException($"{where}: malformed JSON: {e.Message}", e); }
        }
        return entries;
    }

    private static List<(string Where, string FallbackId, JsonElement Element)> ListEntries(string path, string text)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: malformed JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
                throw new InvalidDataException($"{path}: expected a JSON list of pairs or JSON lines, found {doc.RootElement.ValueKind}");
            return doc.RootElement.EnumerateArray()
                .Select((e, i) => ($"{path}: sample #{i}", $"{Path.GetFileName(path)}#{i}", e.Clone()))
                .ToList();
        }
    }

    private static CandidateRow Parse(JsonElement e, string where, string fallbackId, string fileName, string folder,
        PreparedData data)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{where}: expected an object, found {e.ValueKind}");
        string id = IdOf(e, where) ?? fallbackId;
        string image = Text(e, "image", where);
        string question = Text(e, "question", where);
        if (question.StartsWith(ConversationTemplate.ImageToken, StringComparison.Ordinal))
            question = question[ConversationTemplate.ImageToken.Length..].TrimStart();
        string chosen = Text(e, "chosen", where), rejected = Text(e, "rejected", where);

        int[] prompt;
        try { prompt = data.EncodePrompt(question); }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException) { throw new InvalidDataException($"{where}: {ex.Message}", ex); }
        int[] chosenIds = Response(data, chosen, "chosen", where), rejectedIds = Response(data, rejected, "rejected", where);
        if (chosenIds.AsSpan().SequenceEqual(rejectedIds))
            throw new InvalidDataException($"{where}: 'chosen' and 'rejected' are the same text after tokenization");
        string imagePath = Path.IsPathRooted(image) ? image : Path.Combine(folder, image);
        byte[] rgb;
        try { rgb = data.LoadImage(imagePath, $"{where} ('{id}')"); }
        catch (FileNotFoundException ex) { throw new FileNotFoundException(ex.Message, imagePath, ex); }
        return CandidateRow.Judged(id, rgb, prompt, chosenIds, rejectedIds, PreferenceSources.Dataset, $"dataset {fileName}");
    }

    private static int[] Response(PreparedData data, string text, string field, string where)
    {
        int[] ids = [.. data.Tokenizer.Encode(text), data.EosId];
        if (ids.Contains(data.ImageTokenId)) throw new InvalidDataException($"{where}: '{field}' must not contain {ConversationTemplate.ImageToken}");
        return ids;
    }

    private static string? IdOf(JsonElement e, string where)
    {
        foreach (var name in new[] { "id", "idx" })
        {
            if (!e.TryGetProperty(name, out var v)) continue;
            return v.ValueKind switch
            {
                JsonValueKind.String when v.GetString() is { Length: > 0 } s => s,
                JsonValueKind.Number => v.GetRawText(),
                _ => throw new InvalidDataException($"{where}: '{name}' must be a non-empty string or a number"),
            };
        }
        return null;
    }

    private static string Text(JsonElement e, string name, string where) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String && v.GetString() is { Length: > 0 } s
            ? s
            : throw new InvalidDataException($"{where}: missing or non-string '{name}'");
}
