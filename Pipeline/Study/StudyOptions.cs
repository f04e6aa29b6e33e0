using Distill.Pipeline.Bench;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Study;

/// <summary>Options of <c>distill study</c>.</summary>
public sealed record StudyOptions
{
    public const string DefaultPreset = "demo";
    public const int DefaultSeeds = 3;

    /// <summary>The layers every run resolves (its <see cref="ConfigSources.RunDir"/> is the study's directory).</summary>
    public ConfigSources Sources { get; init; } = new() { Preset = DefaultPreset };

    public int Seeds { get; init; } = DefaultSeeds;

    /// <summary>The first run's seed; null = the configuration's <c>distill.seed</c>, so that the study's first run is
    /// the run <c>./run.sh</c> does (and reuses its stored teacher).</summary>
    public int? BaseSeed { get; init; }

    /// <summary>The seed of run <paramref name="run"/> (from 0).</summary>
    public int SeedOf(int baseSeed, int run) => baseSeed + run;

    /// <summary>What is wrong with the options, one message per problem naming the option; empty when they are fine.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Seeds < 2) errors.Add($"--seeds must be at least 2 (a spread needs two runs), got {Seeds}.");
        if (BaseSeed is < 0) errors.Add($"--seed must be at least 0, got {BaseSeed}.");
        else if (BaseSeed is { } b && (long)b + Seeds > int.MaxValue) errors.Add($"--seed {b} with --seeds {Seeds} takes {Soak.SeedKey} past {int.MaxValue}.");
        if (Sources.Overrides.FirstOrDefault(d => Soak.KeyOf(d) == Soak.SeedKey) is { } define)
            errors.Add($"-D {define}: the study sets {Soak.SeedKey} of every run (--seed BASE gives run i the seed BASE + i).");
        return errors;
    }
}
