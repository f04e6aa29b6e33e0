namespace Distill.Stages.Evaluation;

/// <summary>One generated answer next to its reference.</summary>
public sealed record Prediction(string SampleId, string Task, string Question, string Reference, string Generated, bool Correct)
{
    /// <summary>POPE setting of an existence probe (random, popular, adversarial); null for other families.</summary>
    public string? Probe { get; init; }

    /// <summary>Captions: the mentioned objects that are not in the scene ("red circle"; "circle" for a shape named
    /// without a colour), once per mention; null for other families.</summary>
    public IReadOnlyList<string>? Hallucinated { get; init; }
}
