using Distill.Stages.Data;

namespace Distill.Stages.Scoring;

/// <summary>An object a caption mentions: a shape with its colour, or a bare shape (<see cref="Colour"/> null,
/// "a circle").</summary>
public sealed record ObjectMention(string? Colour, string Shape)
{
    /// <summary>Whether a scene object fits the mention: same shape and, when the mention names one, same colour.
    /// Size is not compared (a wrong size is not an object that is absent).</summary>
    public bool Matches(SceneObject o) => o.Shape == Shape && (Colour is null || o.Colour == Colour);

    public override string ToString() => Colour is null ? Shape : $"{Colour} {Shape}";
}

/// <summary>Reads the objects a generated caption mentions, in the closed Shapes vocabulary. Words are the runs of
/// letters (case and punctuation ignored). A colour followed by a shape (size words between them allowed: "red small
/// circle") is one mention; a shape without a colour before it is a bare-shape mention; a plural shape ("circles")
/// counts as its shape. A colour that no shape follows names no object and is ignored; so is every other word.
/// Every occurrence is a mention (an object named twice is mentioned twice).</summary>
public static class CaptionObjects
{
    public static IReadOnlyList<ObjectMention> Parse(string caption)
    {
        var words = Words(caption);
        var mentions = new List<ObjectMention>();
        for (int i = 0; i < words.Count; i++)
        {
            if (ShapeOf(words[i]) is { } bare)
            {
                mentions.Add(new ObjectMention(null, bare));
                continue;
            }
            if (!ShapesVocabulary.Colours.Contains(words[i])) continue;
            int j = i + 1;
            while (j < words.Count && ShapesVocabulary.Sizes.Contains(words[j])) j++;
            if (j < words.Count && ShapeOf(words[j]) is { } shape)
            {
                mentions.Add(new ObjectMention(words[i], shape));
                i = j;
            }
        }
        return mentions;
    }

    private static List<string> Words(string text)
    {
        var words = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool letter = i < text.Length && char.IsLetter(text[i]);
            if (letter && start < 0) start = i;
            else if (!letter && start >= 0)
            {
                words.Add(text[start..i].ToLowerInvariant());
                start = -1;
            }
        }
        return words;
    }

    /// <summary>The shape a word names ("circle" or "circles"), else null.</summary>
    private static string? ShapeOf(string word)
    {
        if (ShapesVocabulary.Shapes.Contains(word)) return word;
        return word.EndsWith('s') && ShapesVocabulary.Shapes.Contains(word[..^1]) ? word[..^1] : null;
    }
}
