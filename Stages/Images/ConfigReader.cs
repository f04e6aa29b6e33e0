using System.Text.Json;

namespace Distill.Stages.Images;

/// <summary>Typed reads of <c>preprocessor_config.json</c> keys, each error naming the file, the key and what is
/// accepted.</summary>
internal sealed class ConfigReader(JsonElement root, string source)
{
    public string Source => source;

    public bool Has(string key) => root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    public string? String(string key) =>
        !Has(key) ? null : root.GetProperty(key) is { ValueKind: JsonValueKind.String } v ? v.GetString() : throw Bad(key, "a string");

    public bool Bool(string key, bool fallback) =>
        !Has(key) ? fallback : root.GetProperty(key).ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Bad(key, "true or false"),
        };

    public double Number(string key, double fallback) =>
        !Has(key) ? fallback : root.GetProperty(key) is { ValueKind: JsonValueKind.Number } v ? v.GetDouble() : throw Bad(key, "a number");

    /// <summary>A number for every channel, or three numbers.</summary>
    public IReadOnlyList<double> PerChannel(string key, double[] fallback)
    {
        if (!Has(key)) return fallback;
        var v = root.GetProperty(key);
        if (v.ValueKind == JsonValueKind.Number) return [v.GetDouble(), v.GetDouble(), v.GetDouble()];
        if (v.ValueKind == JsonValueKind.Array && v.GetArrayLength() == 3 && v.EnumerateArray().All(e => e.ValueKind == JsonValueKind.Number))
            return v.EnumerateArray().Select(e => e.GetDouble()).ToArray();
        throw Bad(key, "a number or a list of 3 numbers (R, G, B)");
    }

    /// <summary>An edge length (a shortest edge if allowed, else a square), <c>{"shortest_edge": n}</c> or
    /// <c>{"height": h, "width": w}</c>.</summary>
    public ImageSize Size(string key, ImageSize fallback, bool shortestAllowed)
    {
        if (!Has(key)) return fallback;
        var v = root.GetProperty(key);
        var accepted = shortestAllowed ? "a number, {\"shortest_edge\": n} or {\"height\": h, \"width\": w}" : "a number or {\"height\": h, \"width\": w}";
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && n > 0)
            return shortestAllowed ? ImageSize.Shortest(n) : ImageSize.Fixed(n, n);
        if (v.ValueKind == JsonValueKind.Object)
        {
            if (shortestAllowed && Positive(v, "shortest_edge") is { } edge) return ImageSize.Shortest(edge);
            if (Positive(v, "height") is { } h && Positive(v, "width") is { } w) return ImageSize.Fixed(h, w);
        }
        throw Bad(key, accepted + ", sizes positive integers");
    }

    public ResampleFilter Resample(string key)
    {
        if (!Has(key)) return ResampleFilter.Bicubic;
        var v = root.GetProperty(key);
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var n) && Enum.IsDefined((ResampleFilter)n)) return (ResampleFilter)n;
        throw Bad(key, "3 (bicubic) or 2 (bilinear)");
    }

    private static int? Positive(JsonElement o, string name) =>
        o.TryGetProperty(name, out var e) && e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out var n) && n > 0 ? n : null;

    private InvalidDataException Bad(string key, string accepted) =>
        new($"{source}: '{key}' is {root.GetProperty(key).GetRawText()}; expected {accepted}");
}
