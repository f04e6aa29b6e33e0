using Distill.Stages.Scoring;

namespace Distill.Stages.Evaluation;

/// <summary>Exact-match score of one question family, next to its chance level (0..1).</summary>
public sealed record FamilyScore(string Family, int Correct, int Total, double Chance)
{
    public double Accuracy => Total == 0 ? 0 : (double)Correct / Total;
}

/// <summary>Evaluation of one model on the test split, with its size and cost from the accounting
/// (<see cref="ActivatedParameters"/> per token; forward FLOPs for the split's mean sequence, 0 when unknown).</summary>
public sealed record EvaluationResult(string Model, long Parameters, IReadOnlyList<FamilyScore> Families)
{
    public long ActivatedParameters { get; init; }
    public long FlopsPerSample { get; init; }
    public long DecoderFlopsPerSample { get; init; }

    /// <summary>Forward FLOPs per token: <see cref="FlopsPerSample"/> / tokens of the mean sample (MoD models: with
    /// the keep ratio measured in <see cref="Speed"/> when there is one); 0 when unknown.</summary>
    public double FlopsPerToken { get; init; }

    /// <summary>POPE scores of the existence probes, one per setting; empty when the split has none.</summary>
    public IReadOnlyList<PopeScore> Pope { get; init; } = [];

    /// <summary>CHAIR of the caption family; null when the split has no captions.</summary>
    public ChairScore? Chair { get; init; }

    /// <summary>Measured speed; null when it was not measured.</summary>
    public SpeedScore? Speed { get; init; }

    /// <summary>Micro-averaged exact-match accuracy over all families.</summary>
    public double Overall => Families.Sum(f => f.Total) == 0 ? 0 : (double)Families.Sum(f => f.Correct) / Families.Sum(f => f.Total);
}
