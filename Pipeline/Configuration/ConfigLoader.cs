using System.Text.RegularExpressions;
using Akka.Configuration;
using Akka.Configuration.Hocon;

namespace Distill.Pipeline.Configuration;

/// <summary>Loads the HOCON layers of <see cref="ConfigSources"/>, validates every key against
/// <see cref="ConfigSchema"/> and binds <see cref="DistillSettings"/>. Nothing else happens before validation
/// passes: on any problem it throws <see cref="ConfigurationErrorException"/> listing all of them.</summary>
public static partial class ConfigLoader
{
    private sealed record Entry(HoconValue Value, string Source);

    public static LoadedConfiguration Load(ConfigSources sources)
    {
        var errors = new List<string>();
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var layers = new List<string>();

        var hoconDir = sources.HoconDirectory ?? HoconLocator.TryFind();
        if (hoconDir is null)
        {
            throw new ConfigurationErrorException([
                $"cannot find hocon/{HoconLocator.DefaultFile} next to the binary ({AppContext.BaseDirectory}) or above the current directory",
            ]);
        }

        // 1. defaults
        var defaultPath = Path.Combine(hoconDir, HoconLocator.DefaultFile);
        AddFile(defaultPath, "default " + defaultPath, mustExist: true);

        // 2. preset
        var presetPath = Path.Combine(hoconDir, "presets", sources.Preset + ".conf");
        if (sources.Preset.Length == 0 || sources.Preset.IndexOfAny(['/', '\\']) >= 0 || !File.Exists(presetPath))
        {
            var available = HoconLocator.Presets(hoconDir);
            errors.Add($"unknown preset '{sources.Preset}'; available: {(available.Count == 0 ? "(none)" : string.Join(", ", available))}");
        }
        else
        {
            AddFile(presetPath, $"preset {sources.Preset}", mustExist: true);
        }

        // 2b. cluster overlay
        if (sources.ClusterOverlay)
        {
            var clusterPath = Path.Combine(hoconDir, HoconLocator.ClusterFile);
            AddFile(clusterPath, "cluster " + clusterPath, mustExist: true);
        }

        // 3. user file
        if (sources.ConfigFile is not null) AddFile(sources.ConfigFile, "file " + sources.ConfigFile, mustExist: true);

        // 4. -D overrides
        foreach (var o in sources.Overrides) AddOverride(o);

        // 5. --run
        if (sources.RunDir is not null)
        {
            if (sources.RunDir.Trim().Length == 0) errors.Add("--run needs a directory");
            else AddText($"distill.run-dir = {SchemaKey.Quote(sources.RunDir)}", "--run " + sources.RunDir, "--run");
        }

        // Values
        var values = new Dictionary<string, object>(StringComparer.Ordinal);
        var sourceOf = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var key in ConfigSchema.Keys)
        {
            if (!entries.TryGetValue(key.Path, out var entry))
            {
                errors.Add($"{key.Path} is missing: it must be set in {HoconLocator.DefaultFile} ({key.Allowed})");
                continue;
            }
            var converted = key.Convert(entry.Value, out var error);
            if (converted is null)
            {
                errors.Add($"{key.Path}: {error} (from {entry.Source})");
                continue;
            }
            values[key.Path] = converted;
            sourceOf[key.Path] = entry.Source;
        }
        errors.AddRange(ConfigSchema.CrossChecks(p => values.GetValueOrDefault(p)));

        if (errors.Count > 0) throw new ConfigurationErrorException(errors);
        return new LoadedConfiguration(values, sourceOf, sources.Preset, layers);

        void AddFile(string path, string name, bool mustExist)
        {
            if (!File.Exists(path))
            {
                if (mustExist) errors.Add($"config file '{path}' not found" + (Path.IsPathRooted(path) ? "" : $" (looked at {Path.GetFullPath(path)})"));
                return;
            }
            string text;
            try
            {
                text = File.ReadAllText(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                errors.Add($"config file '{path}' cannot be read: {e.Message}");
                return;
            }
            AddText(text, name, $"config file '{path}'");
        }

        void AddOverride(string assignment)
        {
            var eq = assignment.IndexOf('=');
            if (eq <= 0)
            {
                errors.Add($"-D expects key=value, got '{assignment}'");
                return;
            }
            var key = assignment[..eq].Trim();
            var value = assignment[(eq + 1)..].Trim();
            if (!key.StartsWith(ConfigSchema.RootKey + ".", StringComparison.Ordinal) || !KeyPattern().IsMatch(key))
            {
                errors.Add($"-D {assignment}: the key must be a path starting with '{ConfigSchema.RootKey}.' (like distill.mimic.d2d-epochs), got '{key}'");
                return;
            }
            AddText($"{key} = {AsHoconValue(value)}", "-D " + assignment, "-D " + assignment);
        }

        void AddText(string text, string name, string what)
        {
            Config config;
            try
            {
                config = ConfigurationFactory.ParseString(text);
            }
            catch (Exception e)
            {
                errors.Add($"{what}: cannot parse HOCON: {OneLine(e.Message)}");
                return;
            }
            layers.Add(name);
            var root = config.Root;
            if (root is null || !root.IsObject()) return;
            foreach (var (k, v) in root.GetObject().Items)
            {
                if (k != ConfigSchema.RootKey)
                {
                    errors.Add($"{name}: unknown top-level key '{k}'; allowed: {ConfigSchema.RootKey}");
                    continue;
                }
                Walk(v, ConfigSchema.RootKey, name);
            }
        }

        void Walk(HoconValue value, string path, string source)
        {
            if (!value.IsObject())
            {
                errors.Add($"{path} must be an object with keys {string.Join(", ", ConfigSchema.ChildrenOf(path))}; got {SchemaKey.Describe(value)} (from {source})");
                return;
            }
            foreach (var (k, v) in value.GetObject().Items)
            {
                var full = path + "." + k;
                if (ConfigSchema.IsSection(full))
                {
                    Walk(v, full, source);
                }
                else if (ConfigSchema.Find(full) is { } key)
                {
                    if (v.Values.Count == 0)
                        errors.Add($"{full} has no value (from {source}); allowed: {key.Allowed}");
                    else if (v.IsObject())
                        errors.Add($"{full}: expected {key.Allowed}, got an object (from {source})");
                    else
                        entries[full] = new Entry(v, source);
                }
                else
                {
                    errors.Add(UnknownKey(path, k, source));
                }
            }
        }
    }

    /// <summary>"unknown key distill.mimic.d2d-epoch ...; allowed keys in distill.mimic: ...; did you mean distill.mimic.d2d-epochs?"</summary>
    internal static string UnknownKey(string section, string name, string source)
    {
        var allowed = ConfigSchema.ChildrenOf(section);
        var message = $"unknown key {section}.{name} (from {source}); allowed keys in {section}: {string.Join(", ", allowed)}";
        var best = allowed
            .Select(a => (a, d: Levenshtein(a, name)))
            .Where(x => x.d <= Math.Max(1, Math.Min(x.a.Length, name.Length) / 3))
            .OrderBy(x => x.d)
            .Select(x => section + "." + x.a)
            .FirstOrDefault();
        // A key that exists in another section (distill.top-k -> distill.teacher.top-k).
        best ??= ConfigSchema.Keys.Where(k => k.Name == name).Select(k => k.Path).OrderBy(p => p.Length).FirstOrDefault(); // the shallowest
        return best is null ? message : $"{message}; did you mean {best}?";
    }

    internal static int Levenshtein(string a, string b)
    {
        var prev = new int[b.Length + 1];
        var cur = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++) prev[j] = j;
        for (var i = 1; i <= a.Length; i++)
        {
            cur[0] = i;
            for (var j = 1; j <= b.Length; j++)
                cur[j] = Math.Min(Math.Min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1));
            (prev, cur) = (cur, prev);
        }
        return prev[b.Length];
    }

    /// <summary>An override value as HOCON: lists, objects, quoted strings and plain words/numbers are taken as
    /// written; anything else (a path with // or spaces, a URL) is quoted so it stays one string.</summary>
    internal static string AsHoconValue(string value)
    {
        if (value.Length == 0) return "\"\"";
        if (value[0] is '[' or '{' or '"') return value;
        return PlainWord().IsMatch(value) ? value : SchemaKey.Quote(value);
    }

    private static string OneLine(string s) => string.Join(" ", s.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    [GeneratedRegex(@"^[A-Za-z0-9_+\-.]+$")]
    private static partial Regex PlainWord();

    [GeneratedRegex(@"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)+$")]
    private static partial Regex KeyPattern();
}
