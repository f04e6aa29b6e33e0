using System.Text;
using System.Text.Json;

namespace Distill.Stages.Data.Llava;

/// <summary>The one reader of the one-object-per-line files of the data path (LLaVA JSONL, POPE, CHAIR): blank lines
/// skipped, a line that is not JSON rejected to the budget as <c>line N</c> with its column, and the value fields that
/// such files write as a string or a number.</summary>
internal static class JsonLines
{
    /// <summary>Every line's JSON value with its label <c>line N</c>; malformed lines go to the budget.</summary>
    public static IEnumerable<(JsonElement Element, string Label)> Elements(string path, BadSampleBudget budget)
    {
        var number = 0;
        foreach (var line in File.ReadLines(path, Encoding.UTF8))
        {
            number++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            JsonElement element;
            try
            {
                using var doc = JsonDocument.Parse(line);
                element = doc.RootElement.Clone();
            }
            catch (JsonException e)
            {
                budget.Reject(new BadSample(path, $"line {number}", $"malformed JSON at column {e.BytePositionInLine + 1}: {FirstSentence(e.Message)}"));
                continue;
            }
            yield return (element, $"line {number}");
        }
    }

    /// <summary>Every line parsed by <paramref name="parse"/> (the item, or why not): the items counted as good, the
    /// rest rejected with their line.</summary>
    public static IEnumerable<T> Read<T>(string path, BadSampleBudget budget, Func<JsonElement, (T? Item, string? Reason)> parse) where T : class
    {
        foreach (var (element, label) in Elements(path, budget))
        {
            var (item, reason) = parse(element);
            if (item is null)
            {
                budget.Reject(new BadSample(path, label, reason!));
                continue;
            }
            budget.Accept();
            yield return item;
        }
    }

    /// <summary>A field written as a string or a number, as text; null when absent or of another kind.</summary>
    public static string? Text(JsonElement e, string name) => e.TryGetProperty(name, out var v) ? v.ValueKind switch
    {
        JsonValueKind.String => v.GetString(),
        JsonValueKind.Number => v.GetRawText(),
        _ => null,
    } : null;

    /// <summary>System.Text.Json's message without its trailing "Path: ... LineNumber: ..." part.</summary>
    public static string FirstSentence(string message)
    {
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        return cut > 0 ? message[..cut] : message;
    }
}
