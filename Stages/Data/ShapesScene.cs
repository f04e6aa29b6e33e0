namespace Distill.Stages.Data;

/// <summary>One object of a scene. <paramref name="X"/>, <paramref name="Y"/> are its centre in pixels of the
/// rendered image; <paramref name="Row"/>, <paramref name="Col"/> its cell on the 3x3 grid.</summary>
public sealed record SceneObject(string Shape, string Colour, string Size, int Row, int Col, float X, float Y)
{
    /// <summary>Row-major cell index 0..8.</summary>
    public int Cell => Row * ShapesVocabulary.GridSize + Col;

    /// <summary>"small red circle".</summary>
    public string Describe() => $"{Size} {Colour} {Shape}";
}

/// <summary>One rendered scene; <paramref name="Objects"/> are in row-major grid order.</summary>
public sealed record ShapesScene(string Id, string Image, IReadOnlyList<SceneObject> Objects);
