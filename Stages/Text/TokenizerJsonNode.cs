using System.Text.Json;

namespace Distill.Stages.Text;

/// <summary>One value of a tokenizer's JSON file with where it is (file and key path), so that every error about it
/// names the file and the key: "…/tokenizer.json: 'model.merges[3]' must be …".</summary>
public readonly struct TokenizerJsonNode
{
    public TokenizerJsonNode(string file, string path, JsonElement value)
    {
        File = file;
        Path = path;
        Value = value;
    }

    public string File { get; }
    public string Path { get; }
    public JsonElement Value { get; }

    public bool IsNull => Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>An error about this value, naming the file and the key.</summary>
    public InvalidDataException Error(string message) => new($"{File}: '{Path}' {message}");

    /// <summary>The member <paramref name="key"/>; it must be there.</summary>
    public TokenizerJsonNode Required(string key)
    {
        var node = Optional(key);
        if (node.IsNull) throw node.Error("is missing");
        return node;
    }

    /// <summary>The member <paramref name="key"/>, or a null node when it is absent.</summary>
    public TokenizerJsonNode Optional(string key)
    {
        if (Value.ValueKind != JsonValueKind.Object) throw Error($"must be an object, found {Value.ValueKind}");
        return new TokenizerJsonNode(File, Child(key), Value.TryGetProperty(key, out var v) ? v : default);
    }

    public string String()
    {
        if (Value.ValueKind != JsonValueKind.String) throw Error($"must be a string, found {Value.ValueKind}");
        return Value.GetString()!;
    }

    public string? StringOrNull() => IsNull ? null : String();

    public bool Bool(bool absent)
    {
        if (IsNull) return absent;
        if (Value.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
            throw Error($"must be true or false, found {Value.ValueKind}");
        return Value.GetBoolean();
    }

    public int Int()
    {
        if (Value.ValueKind != JsonValueKind.Number || !Value.TryGetInt32(out int v))
            throw Error($"must be an integer, found {Value.ValueKind}");
        return v;
    }

    public int Int(int absent) => IsNull ? absent : Int();

    /// <summary>The elements of an array.</summary>
    public IEnumerable<TokenizerJsonNode> Items()
    {
        if (Value.ValueKind != JsonValueKind.Array) throw Error($"must be an array, found {Value.ValueKind}");
        var (file, path) = (File, Path);
        return Value.EnumerateArray().Select((item, i) => new TokenizerJsonNode(file, $"{path}[{i}]", item));
    }

    /// <summary>The members of an object.</summary>
    public IEnumerable<(string Key, TokenizerJsonNode Value)> Members()
    {
        if (Value.ValueKind != JsonValueKind.Object) throw Error($"must be an object, found {Value.ValueKind}");
        var (file, path) = (File, Path);
        return Value.EnumerateObject().Select(p => (p.Name, new TokenizerJsonNode(file, $"{path}.{p.Name}", p.Value)));
    }

    /// <summary>The root of a JSON file; malformed JSON is an error naming the file, line and byte position.</summary>
    public static TokenizerJsonNode ReadFile(string file, byte[] bytes)
    {
        try
        {
            using var doc = JsonDocument.Parse(bytes, new JsonDocumentOptions { AllowTrailingCommas = false });
            return new TokenizerJsonNode(file, "", doc.RootElement.Clone());
        }
        catch (JsonException e)
        {
            throw new InvalidDataException(
                $"{file}: malformed JSON at line {e.LineNumber + 1}, byte {e.BytePositionInLine + 1}: {e.Message}", e);
        }
    }

    private string Child(string key) => Path.Length == 0 ? key : $"{Path}.{key}";
}
