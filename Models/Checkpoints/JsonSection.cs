using System.Globalization;
using System.Text.Json.Nodes;

namespace Distill.Models.Checkpoints;

/// <summary>Typed reads of one JSON object of a config file, with errors that name the file and the key's path
/// (<c>text_config.rope_theta</c>) and say what was expected.</summary>
internal sealed class JsonSection(JsonObject json, string file, string path)
{
    public JsonObject Json { get; } = json;
    public string File { get; } = file;

    /// <summary>The full key path of <paramref name="key"/> in this section.</summary>
    public string Where(string key) => path.Length == 0 ? key : $"{path}.{key}";

    public bool Has(string key) => Json[key] is not null;

    public JsonSection? Section(string key) => Json[key] switch
    {
        null => null,
        JsonObject o => new JsonSection(o, File, Where(key)),
        var other => throw Bad(key, other, "an object"),
    };

    public int Int(string key, int fallback) => Json[key] is { } node ? Value<int>(key, node, "an integer") : fallback;
    public int? IntOrNull(string key, int? fallback) => Json[key] is { } node ? Value<int>(key, node, "an integer") : fallback;
    public double Double(string key, double fallback) => Json[key] is { } node ? Value<double>(key, node, "a number") : fallback;
    public bool Bool(string key, bool fallback) => Json[key] is { } node ? Value<bool>(key, node, "true or false") : fallback;
    public string String(string key, string fallback) => Json[key] is { } node ? Value<string>(key, node, "a string") : fallback;

    /// <summary>An integer, or a list of integers (as <c>eos_token_id</c> may be).</summary>
    public IReadOnlyList<int>? Ints(string key) => Json[key] switch
    {
        null => null,
        JsonArray a => a.Select(n => n is null ? throw Bad(key, a, "a list of integers") : Value<int>(key, n, "a list of integers")).ToList(),
        var node => [Value<int>(key, node, "an integer or a list of integers")],
    };

    /// <summary>A value that must be one of <paramref name="allowed"/>.</summary>
    public string OneOf(string key, string fallback, IReadOnlyList<string> allowed)
    {
        var value = String(key, fallback);
        if (!allowed.Contains(value))
            throw new InvalidDataException($"{File}: key '{Where(key)}' is '{value}', which is not supported; supported: {string.Join(", ", allowed)}.");
        return value;
    }

    public InvalidDataException Bad(string key, JsonNode? node, string expected) =>
        new($"{File}: key '{Where(key)}' has value {node?.ToJsonString() ?? "null"}, expected {expected}.");

    public InvalidDataException Unsupported(string key, string what) => new($"{File}: key '{Where(key)}': {what}.");

    private T Value<T>(string key, JsonNode node, string expected)
    {
        try
        {
            if (node is not JsonValue value) throw Bad(key, node, expected);
            if (typeof(T) == typeof(int) && value.TryGetValue<double>(out var d) && d == Math.Floor(d) && d is >= int.MinValue and <= int.MaxValue)
                return (T)(object)(int)d;
            if (typeof(T) == typeof(double) && value.TryGetValue<double>(out var x)) return (T)(object)x;
            return value.GetValue<T>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw Bad(key, node, expected);
        }
    }
}
