using System.CommandLine;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Cli;

/// <summary>The configuration options every verb that loads the HOCON layers shares: <c>--config</c>,
/// <c>--preset</c>, <c>-D</c> and <c>--run</c> (see <see cref="ConfigSources"/>).</summary>
internal sealed class ConfigOptions
{
    public Option<string?> Config { get; }
    public Option<string> Preset { get; }
    public Option<string[]> Define { get; }
    public Option<string?> Run { get; }

    /// <param name="runDescription">help text of <c>--run</c>.</param>
    /// <param name="defaultPreset">the preset when <c>--preset</c> is not given.</param>
    public ConfigOptions(string runDescription, string defaultPreset = ConfigSources.DefaultPreset)
    {
        var presets = HoconLocator.TryFind() is { } dir ? string.Join("|", HoconLocator.Presets(dir)) : "tiny|demo";
        Config = new Option<string?>("--config", "-c")
        {
            Description = "HOCON file layered over the defaults and the preset",
            HelpName = "FILE",
        };
        Preset = new Option<string>("--preset", "-p")
        {
            Description = $"size preset from hocon/presets ({presets})",
            HelpName = "NAME",
            DefaultValueFactory = _ => defaultPreset,
        };
        Define = new Option<string[]>("--define", "-D")
        {
            Description = "override one key, value parsed as HOCON (-D distill.mimic.d2d-epochs=2); repeatable, last wins",
            HelpName = "key=value",
            AllowMultipleArgumentsPerToken = false,
        };
        Run = new Option<string?>("--run")
        {
            Description = runDescription,
            HelpName = "DIR",
        };
    }

    /// <summary>Adds the four options to <paramref name="command"/>.</summary>
    public void AddTo(Command command)
    {
        command.Add(Config);
        command.Add(Preset);
        command.Add(Define);
        command.Add(Run);
    }

    /// <summary>The sources the parsed options name.</summary>
    public ConfigSources SourcesOf(ParseResult parse) => new()
    {
        Preset = parse.GetValue(Preset) ?? ConfigSources.DefaultPreset,
        ConfigFile = parse.GetValue(Config),
        Overrides = parse.GetValue(Define) ?? [],
        RunDir = parse.GetValue(Run),
    };
}
