namespace Distill.Stages.Data;

/// <summary>Draws random scenes: MinObjects..MaxObjects objects on distinct cells of the 3x3 grid, each with a
/// shape and colour drawn with the vocabulary's weights, a random size, its centre jittered a little inside its cell.</summary>
public static class SceneSampler
{
    /// <summary>Largest shape radius as a fraction of the cell side.</summary>
    public const float LargeRadius = 0.44f, SmallRadius = 0.3f;
    /// <summary>Largest centre offset from the cell centre, as a fraction of the cell side. LargeRadius + Jitter &lt; 0.5,
    /// so an object never leaves its cell and objects never overlap.</summary>
    public const float Jitter = 0.05f;

    public static ShapesScene Sample(DeterministicRandom rng, ShapesOptions options, string id, string image)
    {
        int count = rng.Next(options.MinObjects, options.MaxObjects);
        var cells = Enumerable.Range(0, ShapesVocabulary.Cells).ToList();
        rng.Shuffle(cells);
        float cell = options.ImageSize / (float)ShapesVocabulary.GridSize;
        var objects = new List<SceneObject>(count);
        foreach (int c in cells.Take(count).Order())
        {
            int row = c / ShapesVocabulary.GridSize, col = c % ShapesVocabulary.GridSize;
            string shape = rng.PickWeighted(ShapesVocabulary.Shapes, ShapesVocabulary.ShapeWeights);
            string colour = rng.PickWeighted(ShapesVocabulary.Colours, ShapesVocabulary.ColourWeights);
            string size = rng.Pick(ShapesVocabulary.Sizes);
            float x = (col + 0.5f + Offset(rng)) * cell;
            float y = (row + 0.5f + Offset(rng)) * cell;
            objects.Add(new SceneObject(shape, colour, size, row, col, x, y));
        }
        return new ShapesScene(id, image, objects);
    }

    private static float Offset(DeterministicRandom rng) => (float)((rng.NextDouble() * 2 - 1) * Jitter);
}
