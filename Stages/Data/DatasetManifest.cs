namespace Distill.Stages.Data;

/// <summary>Counts of one written split: scenes, samples (questions) and samples per question family.</summary>
public sealed record SplitSummary(string Name, int Scenes, int Samples, IReadOnlyDictionary<string, int> Families);

/// <summary><c>dataset.json</c>: what was generated, how, and a fingerprint to decide whether it can be reused.</summary>
public sealed record DatasetManifest(string Format, string Generator, string Fingerprint, ShapesOptions Options,
    IReadOnlyList<SplitSummary> Splits)
{
    public const string FormatVersion = "distill-shapes/v1";
    public const string FileName = "dataset.json";

    public SplitSummary Split(string name) => Splits.FirstOrDefault(s => s.Name == name)
        ?? throw new ArgumentException($"Dataset manifest has no split '{name}'; it has: {string.Join(", ", Splits.Select(s => s.Name))}");
}
