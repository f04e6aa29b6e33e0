namespace Distill.Pipeline.Configuration;

/// <summary>Where the configuration comes from, lowest priority first: <c>hocon/pipeline.conf</c>, the preset,
/// <c>hocon/cluster.conf</c> when <see cref="ClusterOverlay"/>, <see cref="ConfigFile"/>, each of <see cref="Overrides"/> (<c>key=value</c>, in order), then <see cref="RunDir"/>
/// (the CLI's <c>--run</c>).</summary>
public sealed record ConfigSources
{
    public const string DefaultPreset = "demo";

    public string Preset { get; init; } = DefaultPreset;
    public string? ConfigFile { get; init; }
    public IReadOnlyList<string> Overrides { get; init; } = [];
    public string? RunDir { get; init; }

    /// <summary>Layer <c>hocon/cluster.conf</c> over the preset: a run as a cluster (<c>distill node</c>).</summary>
    public bool ClusterOverlay { get; init; }

    /// <summary>The <c>hocon/</c> folder; null = <see cref="HoconLocator.TryFind"/>.</summary>
    public string? HoconDirectory { get; init; }
}
