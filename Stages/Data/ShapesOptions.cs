namespace Distill.Stages.Data;

/// <summary>How a Shapes dataset is generated. <see cref="Validate"/> names the bad field.</summary>
public sealed record ShapesOptions
{
    public int ImageSize { get; init; } = 32;
    public int TrainScenes { get; init; } = 200;
    public int ValScenes { get; init; } = 40;
    public int TestScenes { get; init; } = 40;
    public int QuestionsPerScene { get; init; } = 5;
    public int MinObjects { get; init; } = 1;
    public int MaxObjects { get; init; } = 6;
    public long Seed { get; init; } = 1234;
    public IReadOnlyList<string> Families { get; init; } = ShapesVocabulary.Families;
    /// <summary>Existence probes are asked this many times as often as each other family (POPE asks several probes
    /// per image; a yes/no answer carries one bit, so the family needs more examples to learn).</summary>
    public int ExistenceWeight { get; init; } = 1;

    public int ScenesOf(string split) => split switch
    {
        "train" => TrainScenes,
        "val" => ValScenes,
        "test" => TestScenes,
        _ => throw new ArgumentException($"Unknown split '{split}'; allowed: {string.Join(", ", ShapesVocabulary.Splits)}", nameof(split)),
    };

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public ShapesOptions Validate()
    {
        if (ImageSize < 8 || ImageSize > 1024)
            throw new ArgumentException($"ShapesOptions.ImageSize must be in 8..1024, got {ImageSize}");
        if (TrainScenes < 0 || ValScenes < 0 || TestScenes < 0)
            throw new ArgumentException($"ShapesOptions scene counts must be >= 0, got train={TrainScenes} val={ValScenes} test={TestScenes}");
        if (QuestionsPerScene < 1)
            throw new ArgumentException($"ShapesOptions.QuestionsPerScene must be >= 1, got {QuestionsPerScene}");
        if (MinObjects < 1 || MaxObjects > ShapesVocabulary.Cells || MinObjects > MaxObjects)
            throw new ArgumentException(
                $"ShapesOptions.MinObjects/MaxObjects must satisfy 1 <= min <= max <= {ShapesVocabulary.Cells}, got {MinObjects}..{MaxObjects}");
        if (ExistenceWeight < 1 || ExistenceWeight > 16)
            throw new ArgumentException($"ShapesOptions.ExistenceWeight must be in 1..16, got {ExistenceWeight}");
        if (Families is null || Families.Count == 0)
            throw new ArgumentException($"ShapesOptions.Families is empty; allowed: {string.Join(", ", ShapesVocabulary.Families)}");
        foreach (var f in Families)
            if (!ShapesVocabulary.Families.Contains(f))
                throw new ArgumentException(
                    $"ShapesOptions.Families: unknown family '{f}'; allowed: {string.Join(", ", ShapesVocabulary.Families)}");
        if (Families.Distinct().Count() != Families.Count)
            throw new ArgumentException($"ShapesOptions.Families lists a family twice: {string.Join(", ", Families)}");
        return this;
    }
}
