namespace Distill.Pipeline.Configuration;

/// <summary>Finds the <c>hocon/</c> folder: next to the binary (the build copies it there), else the repository's,
/// searched upwards from the binary and from the current directory.</summary>
public static class HoconLocator
{
    public const string DefaultFile = "pipeline.conf";

    /// <summary>The overlay of a cluster run (<see cref="ConfigSources.ClusterOverlay"/>).</summary>
    public const string ClusterFile = "cluster.conf";

    public static string? TryFind()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "hocon");
                if (File.Exists(Path.Combine(candidate, DefaultFile))) return candidate;
            }
        }
        return null;
    }

    /// <summary>Preset names available in <paramref name="hoconDir"/>/presets (file names without .conf).</summary>
    public static IReadOnlyList<string> Presets(string hoconDir)
    {
        var dir = Path.Combine(hoconDir, "presets");
        return Directory.Exists(dir)
            ? Directory.GetFiles(dir, "*.conf").Select(f => Path.GetFileNameWithoutExtension(f)!).Order(StringComparer.Ordinal).ToArray()
            : [];
    }
}
