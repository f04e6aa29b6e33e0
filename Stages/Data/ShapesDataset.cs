namespace Distill.Stages.Data;

/// <summary>Reads a written Shapes dataset (contract stub).</summary>
public static class ShapesDataset
{
    public static IReadOnlyList<ShapesSample> ReadSplit(string datasetDir, string split) => throw new NotImplementedException();
    /// <summary>Decodes the sample's PNG to packed RGB (size*size*3), resizing if needed.</summary>
    public static byte[] LoadRgb(string datasetDir, ShapesSample sample, int size) => throw new NotImplementedException();
}
