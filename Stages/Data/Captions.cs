namespace Distill.Stages.Data;

/// <summary>The reference caption of a scene: "a small red circle, a large blue square and a small green triangle."
/// with objects in row-major grid order.</summary>
public static class Captions
{
    public static string Of(ShapesScene scene)
    {
        var parts = scene.Objects.OrderBy(o => o.Cell).Select(o => "a " + o.Describe()).ToList();
        if (parts.Count == 0) return "an empty image.";
        string body = parts.Count == 1
            ? parts[0]
            : string.Join(", ", parts.Take(parts.Count - 1)) + " and " + parts[^1];
        return body + ".";
    }
}
