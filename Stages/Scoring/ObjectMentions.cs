using Distill.Stages.Data;
using Distill.Stages.Text;

namespace Distill.Stages.Scoring;

/// <summary>The objects a text names: every colour word directly followed by a shape word, as in the captions'
/// "a small red circle" (size words come before the colour).</summary>
public static class ObjectMentions
{
    public static IReadOnlyList<ObjectName> Of(string text)
    {
        var words = WordTokenizer.Split(text).ToList();
        var found = new List<ObjectName>();
        for (int i = 0; i + 1 < words.Count; i++)
            if (ShapesVocabulary.Colours.Contains(words[i]) && ShapesVocabulary.Shapes.Contains(words[i + 1]))
                found.Add(new ObjectName(words[i], words[i + 1]));
        return found;
    }

    /// <summary>The distinct objects of a scene.</summary>
    public static IReadOnlySet<ObjectName> InScene(ShapesScene scene) =>
        scene.Objects.Select(o => new ObjectName(o.Colour, o.Shape)).ToHashSet();
}
