namespace Distill.Stages.Preference;

/// <summary>How pairs are mined from the student: <see cref="SamplesPerPrompt"/> responses per prompt, sampled at
/// <see cref="Temperature"/> with nucleus <see cref="TopP"/> (seeded), at most <see cref="MaxNewTokens"/> each, for
/// <see cref="Prompts"/> training prompts and <see cref="HeldOutPrompts"/> validation prompts (the held-out pairs),
/// <see cref="BatchSize"/> prompts per generation batch. <see cref="StudentSampled"/>: pairs judged by the ground
/// truth, or by the teacher where the task has none; <see cref="Hallucination"/>: caption pairs whose rejected
/// response names an object not in the scene.</summary>
public sealed record MiningOptions(
    int SamplesPerPrompt,
    double Temperature,
    double TopP,
    int MaxNewTokens,
    int Prompts,
    int HeldOutPrompts,
    int BatchSize,
    bool StudentSampled,
    bool Hallucination,
    int Seed)
{
    public MiningOptions Validate()
    {
        if (SamplesPerPrompt < 2) throw new ArgumentException($"samples per prompt must be at least 2 to make a pair, got {SamplesPerPrompt}");
        if (!(Temperature > 0)) throw new ArgumentException($"mining temperature must be > 0 (sampling, not greedy), got {Temperature}");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"top-p must be in (0, 1], got {TopP}");
        if (MaxNewTokens < 1) throw new ArgumentException($"max new tokens must be at least 1, got {MaxNewTokens}");
        if (Prompts < 0 || HeldOutPrompts < 0) throw new ArgumentException($"prompt counts must not be negative, got {Prompts}, {HeldOutPrompts}");
        if (BatchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {BatchSize}");
        return this;
    }
}
