using System.Globalization;
using Akka.Configuration.Hocon;

namespace Distill.Pipeline.Configuration;

/// <summary>Which decoder layers get a component: the word <see cref="EveryOther"/> (layers 0, 2, 4, ...) or a
/// non-empty list of distinct layer indices (&gt;= 0). Converted to <see cref="EveryOther"/> or an
/// <c>IReadOnlyList&lt;int&gt;</c>, sorted; whether the indices exist is a cross-check against the layer count.</summary>
public sealed record LayerPlacementKey(string Path, string Description = "") : SchemaKey(Path, Description)
{
    public const string EveryOther = "every-other";

    public override string Allowed => $"{EveryOther} or a non-empty list of distinct layer indices >= 0";

    public override object? Convert(HoconValue value, out string? error)
    {
        error = null;
        if (!value.IsArray())
        {
            if (Literal(value)?.Trim() == EveryOther) return EveryOther;
            error = $"expected {Allowed}, got {Describe(value)}";
            return null;
        }
        var layers = new List<int>();
        var problems = new List<string>();
        foreach (var item in value.GetArray())
        {
            var s = Literal(item)?.Trim();
            if (s is null || !int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out var layer))
                problems.Add($"item {Describe(item)} is not a layer index");
            else if (layers.Contains(layer)) problems.Add($"layer {layer} appears twice");
            else layers.Add(layer);
        }
        if (problems.Count == 0 && layers.Count == 0) problems.Add("the list is empty");
        if (problems.Count > 0)
        {
            error = string.Join("; ", problems) + $"; allowed: {Allowed}";
            return null;
        }
        return (IReadOnlyList<int>)layers.Order().ToArray();
    }

    public override string Render(object value) => value is string word
        ? word
        : "[" + string.Join(", ", ((IReadOnlyList<int>)value).Select(i => i.ToString(CultureInfo.InvariantCulture))) + "]";
}
