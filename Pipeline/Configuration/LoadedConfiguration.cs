using System.Text;

namespace Distill.Pipeline.Configuration;

/// <summary>A validated configuration: the bound <see cref="Settings"/>, where each value came from, and the
/// resolved HOCON text (<see cref="ToHocon"/>) that reproduces it.</summary>
public sealed class LoadedConfiguration
{
    private readonly IReadOnlyDictionary<string, object> _values;
    private readonly IReadOnlyDictionary<string, string> _sources;

    internal LoadedConfiguration(IReadOnlyDictionary<string, object> values, IReadOnlyDictionary<string, string> sources, string preset, IReadOnlyList<string> layers)
    {
        _values = values;
        _sources = sources;
        Preset = preset;
        Layers = layers;
        Settings = Declaration.SettingsTree.Bind(values);
    }

    public DistillSettings Settings { get; }

    /// <summary>Converted values by key path (long, double, string or string list).</summary>
    internal IReadOnlyDictionary<string, object> Values => _values;

    /// <summary>The preset that was layered over the defaults (tiny, demo, ...).</summary>
    public string Preset { get; }

    /// <summary>The layers that were applied, lowest priority first ("default ...", "preset demo", "-D k=v").</summary>
    public IReadOnlyList<string> Layers { get; }

    /// <summary>The layer that set <paramref name="path"/>'s value.</summary>
    public string SourceOf(string path) => _sources.TryGetValue(path, out var s) ? s : throw new KeyNotFoundException(path);

    /// <summary>A copy with one value replaced (used to record the resolved run and data directories).</summary>
    public LoadedConfiguration With(string path, object value, string source)
    {
        var key = ConfigSchema.Find(path) ?? throw new ArgumentException($"unknown key {path}", nameof(path));
        if (value is int i) value = (long)i;
        if (_values[path].GetType() != value.GetType() && value is not IReadOnlyList<string>)
            throw new ArgumentException($"{path} holds {_values[path].GetType().Name}, not {value.GetType().Name}", nameof(value));
        var values = new Dictionary<string, object>(_values, StringComparer.Ordinal) { [key.Path] = value };
        var sources = new Dictionary<string, string>(_sources, StringComparer.Ordinal) { [key.Path] = source };
        return new LoadedConfiguration(values, sources, Preset, Layers);
    }

    /// <summary>The resolved configuration as HOCON, in schema order, with the layer of every value that is not a
    /// default as a comment. Parsing it again gives the same settings.</summary>
    public string ToHocon(string? header = null)
    {
        var sb = new StringBuilder();
        if (header is not null)
        {
            foreach (var line in header.Split('\n')) sb.Append("# ").AppendLine(line.TrimEnd('\r'));
        }
        sb.AppendLine("# Layers, lowest priority first:");
        foreach (var layer in Layers) sb.Append("#   ").AppendLine(layer);
        Render(sb, ConfigSchema.RootKey, 0);
        return sb.ToString();
    }

    private void Render(StringBuilder sb, string section, int depth)
    {
        var pad = new string(' ', depth * 2);
        sb.Append(pad).Append(section[(section.LastIndexOf('.') + 1)..]).AppendLine(" {");
        foreach (var child in ConfigSchema.ChildrenOf(section))
        {
            var path = section + "." + child;
            if (ConfigSchema.IsSection(path))
            {
                Render(sb, path, depth + 1);
                continue;
            }
            var key = ConfigSchema.Find(path)!;
            sb.Append(pad).Append("  ").Append(child).Append(" = ").Append(key.Render(_values[path]));
            var source = _sources[path];
            if (!source.StartsWith("default ", StringComparison.Ordinal)) sb.Append("  # ").Append(source.Replace('\n', ' '));
            sb.AppendLine();
        }
        sb.Append(pad).AppendLine("}");
    }
}
