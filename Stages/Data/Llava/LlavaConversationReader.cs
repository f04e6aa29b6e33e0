using System.Text.Json;

namespace Distill.Stages.Data.Llava;

/// <summary>Reads a LLaVA conversation dataset: a JSON list (<c>.json</c>) or one sample per line (<c>.jsonl</c>) of
/// <c>{"id", "image"?, "conversations": [{"from": "human"|"gpt", "value"}, ...]}</c>, images relative to the image
/// folder (default: the data file's folder). Samples stream one at a time (a JSON list is never parsed whole); images
/// are only checked to exist and be non-empty here, decoded later by the loaders.
/// <para>A sample that cannot be used is reported to the <see cref="BadSampleBudget"/> with its id and the reason and
/// skipped: not an object, no id, an id seen before, an image that escapes the folder, is missing or empty, no
/// conversations, a turn that is not <c>{from, value}</c> or has another <c>from</c>, turns out of order (human first,
/// then alternating), no answer (the last turn is not a non-empty <c>gpt</c> one), <c>&lt;image&gt;</c> outside the
/// first human turn, more than once, or without an image. A line of a JSONL file that is not JSON is such a sample;
/// a JSON list that is not JSON stops the read with the file, line and column, since nothing after it can be
/// trusted.</para></summary>
public static class LlavaConversationReader
{
    public static IEnumerable<ConversationSample> Read(string file, string? imageFolder, BadSampleBudget budget)
    {
        ArgumentNullException.ThrowIfNull(budget);
        var path = Path.GetFullPath(file);
        if (!File.Exists(path)) throw new FileNotFoundException($"dataset file not found: {path}", path);
        var folder = Path.GetFullPath(imageFolder ?? Path.GetDirectoryName(path)!);
        if (!Directory.Exists(folder)) throw new DirectoryNotFoundException($"image folder not found: {folder} (distill.data.image-folder, for {path})");
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var elements = path.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase) ? JsonLines.Elements(path, budget) : ListItems(path);
        foreach (var (element, label) in elements)
        {
            var (sample, reason, id) = Parse(element, path, folder);
            if (sample is not null && !seen.Add(sample.Id)) (sample, reason) = (null, "the id appears a second time");
            if (sample is null)
            {
                budget.Reject(new BadSample(path, id is null ? label : $"'{id}'", reason!));
                continue;
            }
            budget.Accept();
            yield return sample;
        }
    }

    /// <summary>The items of a JSON list, streamed, each labelled <c>#index</c>.</summary>
    private static IEnumerable<(JsonElement, string)> ListItems(string path)
    {
        using var stream = File.OpenRead(path);
        if (FirstByte(stream) is not (byte)'[')
            throw new InvalidDataException($"{path}: expected a JSON list of samples ('[' first); use a .jsonl name for one sample per line");
        stream.Position = 0;
        using var items = JsonSerializer.DeserializeAsyncEnumerable<JsonElement>(stream).ToBlockingEnumerable().GetEnumerator();
        for (var index = 0; ; index++)
        {
            try
            {
                if (!items.MoveNext()) yield break;
            }
            catch (JsonException e)
            {
                throw new InvalidDataException(
                    $"{path}:{e.LineNumber + 1}:{e.BytePositionInLine + 1}: malformed JSON in the list of samples: {JsonLines.FirstSentence(e.Message)}", e);
            }
            yield return (items.Current, $"#{index}");
        }
    }

    /// <summary>The sample, or why not (with its id when it had one).</summary>
    private static (ConversationSample? Sample, string? Reason, string? Id) Parse(JsonElement e, string path, string folder)
    {
        if (e.ValueKind != JsonValueKind.Object) return (null, $"is a JSON {e.ValueKind.ToString().ToLowerInvariant()}, expected an object", null);
        var id = JsonLines.Text(e, "id");
        if (string.IsNullOrEmpty(id)) return (null, "missing or non-string, non-number 'id'", null);

        string? image = null;
        if (e.TryGetProperty("image", out var imageValue) && imageValue.ValueKind != JsonValueKind.Null)
        {
            if (imageValue.ValueKind != JsonValueKind.String) return (null, $"'image' is a JSON {imageValue.ValueKind.ToString().ToLowerInvariant()}, expected a path", id);
            var (resolved, error) = ImagePaths.Resolve(folder, imageValue.GetString()!);
            if (error is not null) return (null, error, id);
            image = resolved;
        }

        if (!e.TryGetProperty("conversations", out var conversations) || conversations.ValueKind != JsonValueKind.Array || conversations.GetArrayLength() == 0)
            return (null, "no conversations (expected a non-empty list 'conversations')", id);
        var turns = new List<ConversationTurn>(conversations.GetArrayLength());
        foreach (var t in conversations.EnumerateArray())
        {
            var i = turns.Count;
            if (t.ValueKind != JsonValueKind.Object
                || !t.TryGetProperty("from", out var from) || from.ValueKind != JsonValueKind.String
                || !t.TryGetProperty("value", out var value) || value.ValueKind != JsonValueKind.String)
                return (null, $"turn {i} is not {{\"from\": string, \"value\": string}}", id);
            var role = from.GetString()!;
            if (role is not (ConversationTurn.Human or ConversationTurn.Gpt))
                return (null, $"turn {i} is from '{role}'; supported: {ConversationTurn.Human}, {ConversationTurn.Gpt}", id);
            var expected = i % 2 == 0 ? ConversationTurn.Human : ConversationTurn.Gpt;
            if (role != expected) return (null, $"turns in the wrong order: turn {i} is from '{role}' where '{expected}' was expected", id);
            turns.Add(new ConversationTurn(role, value.GetString()!));
        }
        if (turns[^1].IsHuman) return (null, "no answer: the last turn is from 'human'", id);
        if (turns.FirstOrDefault(t => !t.IsHuman && string.IsNullOrWhiteSpace(t.Value)) is { } empty)
            return (null, $"no answer: turn {turns.IndexOf(empty)} from 'gpt' is empty", id);

        var placeholders = turns.Select(t => Count(t.Value, ConversationSample.ImageToken)).ToList();
        if (placeholders.Skip(1).Any(n => n > 0))
            return (null, $"{ConversationSample.ImageToken} in turn {placeholders.FindIndex(1, n => n > 0)}; it may only stand in the first human turn", id);
        if (placeholders[0] > 1) return (null, $"{ConversationSample.ImageToken} {placeholders[0]} times; one image per sample is supported", id);
        if (image is null && placeholders[0] == 1) return (null, $"{ConversationSample.ImageToken} in the text but no 'image'", id);
        if (image is not null && placeholders[0] == 0)
            turns[0] = turns[0] with { Value = ConversationSample.ImageToken + "\n" + turns[0].Value };
        return (new ConversationSample(id, image, turns, path), null, id);
    }

    private static int Count(string text, string token)
    {
        int n = 0;
        for (int at = text.IndexOf(token, StringComparison.Ordinal); at >= 0; at = text.IndexOf(token, at + token.Length, StringComparison.Ordinal)) n++;
        return n;
    }

    private static int FirstByte(Stream stream)
    {
        int b;
        do b = stream.ReadByte(); while (b is ' ' or '\t' or '\r' or '\n' or 0xEF or 0xBB or 0xBF); // whitespace, UTF-8 BOM
        return b;
    }
}
