namespace Distill.Stages.Data;

/// <summary>Accuracy of guessing uniformly among a family's possible answers: the floor a model must beat.</summary>
public static class ShapesChance
{
    /// <summary>colour 1/5, shape 1/4, count 1/(MaxObjects-MinObjects+1), position 1/9 (grid cells), relation and existence 1/2 (answers are balanced),
    /// caption 0: a caption is scored by exact match and the number of possible captions grows as
    /// (4 shapes x 5 colours x 2 sizes)^objects times the cell layouts, so a guess is practically never right.</summary>
    public static double ChanceLevel(string family, ShapesOptions options) => family switch
    {
        ShapesVocabulary.Colour => 1.0 / ShapesVocabulary.Colours.Count,
        ShapesVocabulary.Shape => 1.0 / ShapesVocabulary.Shapes.Count,
        ShapesVocabulary.Count => 1.0 / (options.MaxObjects - options.MinObjects + 1),
        ShapesVocabulary.Position => 1.0 / ShapesVocabulary.PositionWords.Count,
        ShapesVocabulary.Relation => 0.5,
        ShapesVocabulary.Existence => 0.5,
        ShapesVocabulary.Caption => 0.0,
        _ => throw new ArgumentException(
            $"Unknown question family '{family}'; allowed: {string.Join(", ", ShapesVocabulary.Families)}", nameof(family)),
    };
}
