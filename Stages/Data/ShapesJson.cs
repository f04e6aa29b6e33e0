using System.Text.Encodings.Web;
using System.Text.Json;

namespace Distill.Stages.Data;

/// <summary>The JSON settings of every Shapes file: snake_case names, "\n" newlines and no escaping of &lt; &gt;
/// (so "&lt;image&gt;" reads as such in any tool) — fixed so the bytes are the same on every platform.</summary>
internal static class ShapesJson
{
    public static readonly JsonSerializerOptions Indented = Make(indented: true);
    public static readonly JsonSerializerOptions Compact = Make(indented: false);

    private static JsonSerializerOptions Make(bool indented) => new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        WriteIndented = indented,
        NewLine = "\n",
    };

    public static byte[] Serialize<T>(T value, bool indented = true) =>
        JsonSerializer.SerializeToUtf8Bytes(value, indented ? Indented : Compact);

    /// <summary>Reads a whole JSON file, naming it in the error when it is missing or malformed.</summary>
    public static JsonDocument ReadDocument(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Shapes dataset file not found: {path}", path);
        try { return JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"Malformed JSON in {path}: {e.Message}", e); }
    }

    public static T Deserialize<T>(string path) where T : class
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Shapes dataset file not found: {path}", path);
        try
        {
            return JsonSerializer.Deserialize<T>(File.ReadAllBytes(path), Compact)
                ?? throw new InvalidDataException($"{path} holds JSON null, expected a {typeof(T).Name}");
        }
        catch (JsonException e) { throw new InvalidDataException($"Malformed {typeof(T).Name} JSON in {path}: {e.Message}", e); }
    }
}
