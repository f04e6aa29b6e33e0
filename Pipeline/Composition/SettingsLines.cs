using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Composition;

/// <summary>The settings as "Path=value" lines (culture-invariant, in declaration order), for the hashes that decide
/// whether earlier work can be reused. Walks the settings records by reflection, so sections added later are covered
/// without more work; a path that <c>skip</c> matches is left out with everything under it.</summary>
public static class SettingsLines
{
    /// <summary>The lines of the settings at <paramref name="keys"/> (property paths such as <c>Mimic.Scope</c>, each
    /// with everything under it; <c>""</c> = every setting), in the order of the keys. Throws
    /// <see cref="ArgumentException"/> naming a key that is not a settings path.</summary>
    public static string Select(DistillSettings settings, IReadOnlyList<string> keys)
    {
        var lines = new List<string>();
        foreach (var key in keys)
        {
            object? value = settings;
            foreach (var name in key.Length == 0 ? [] : key.Split('.'))
            {
                var property = value?.GetType().GetProperty(name, BindingFlags.Public | BindingFlags.Instance)
                    ?? throw new ArgumentException($"settings key '{key}': '{name}' is not a property of {value?.GetType().Name ?? "null"}");
                value = property.GetValue(value);
            }
            Walk(value, key, Nothing, lines);
        }
        return string.Join("\n", lines);
    }

    /// <summary>Every leaf path of the settings (the paths of the lines <see cref="Of"/> writes).</summary>
    public static IReadOnlyList<string> Paths(DistillSettings settings) =>
        Of(settings, Nothing).Split('\n').Select(l => l[..l.IndexOf('=')]).ToList();

    private static readonly Regex Nothing = new("(?!)", RegexOptions.CultureInvariant);

    public static string Of(DistillSettings settings, Regex skip)
    {
        var lines = new List<string>();
        Walk(settings, "", skip, lines);
        return string.Join("\n", lines);
    }

    private static void Walk(object? value, string path, Regex skip, List<string> lines)
    {
        if (path.Length > 0 && skip.IsMatch(path)) return;
        switch (value)
        {
            case null:
                lines.Add($"{path}=null");
                return;
            case string or bool or Enum:
                lines.Add($"{path}={value}");
                return;
            case IFormattable number:
                lines.Add($"{path}={number.ToString(value is double or float ? "R" : null, CultureInfo.InvariantCulture)}");
                return;
            case System.Collections.IEnumerable items:
                lines.Add($"{path}=[{string.Join(", ", items.Cast<object?>().Select(i => Convert.ToString(i, CultureInfo.InvariantCulture)))}]");
                return;
        }
        foreach (var property in value.GetType().GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.GetIndexParameters().Length > 0) continue;
            Walk(property.GetValue(value), path.Length == 0 ? property.Name : $"{path}.{property.Name}", skip, lines);
        }
    }
}
