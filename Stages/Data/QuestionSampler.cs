using static Distill.Stages.Data.ShapesVocabulary;

namespace Distill.Stages.Data;

/// <summary>Asks the questions of one split. Families cycle over the split (question n of the split starts at
/// family n mod F), so each family gets about 1/F of the questions; a family that cannot be asked about a scene
/// (no unique shape for "colour", no unique colour for "shape", or every candidate already asked) hands over to the
/// next one. Existence answers are kept balanced: the sampler asks for whichever of yes/no is behind so far.</summary>
public sealed class QuestionSampler(DeterministicRandom rng, ShapesOptions options)
{
    private int _yes, _no, _asked;

    public IReadOnlyList<ShapesQuestion> For(ShapesScene scene)
    {
        var result = new List<ShapesQuestion>(options.QuestionsPerScene);
        var families = options.Families;
        for (int q = 0; q < options.QuestionsPerScene; q++, _asked++)
        {
            ShapesQuestion? next = null;
            // First pass: a question not yet asked about this scene; second pass: repeats allowed.
            for (int pass = 0; pass < 2 && next is null; pass++)
                for (int t = 0; t < families.Count && next is null; t++)
                    next = TryAsk(families[(_asked + t) % families.Count], scene, pass == 0 ? result : []);
            result.Add(next ?? throw new InvalidOperationException(
                $"No question family of [{string.Join(", ", families)}] can be asked about scene {scene.Id}"));
        }
        return result;
    }

    private ShapesQuestion? TryAsk(string family, ShapesScene scene, List<ShapesQuestion> asked) => family switch
    {
        Colour => PickFresh(ColourQuestions(scene), asked),
        Shape => PickFresh(ShapeQuestions(scene), asked),
        Count => AskCount(scene, asked),
        Existence => AskExistence(scene, asked),
        Caption => PickFresh([new ShapesQuestion(Caption, "describe the image.", Captions.Of(scene))], asked),
        _ => throw new ArgumentException($"Unknown family '{family}'; allowed: {string.Join(", ", Families)}"),
    };

    private ShapesQuestion? PickFresh(List<ShapesQuestion> candidates, List<ShapesQuestion> asked)
    {
        var fresh = candidates.Where(c => !asked.Any(a => a.Question == c.Question)).ToList();
        return fresh.Count == 0 ? null : rng.Pick(fresh);
    }

    private static List<ShapesQuestion> ColourQuestions(ShapesScene scene) =>
        scene.Objects.GroupBy(o => o.Shape).Where(g => g.Count() == 1).Select(g => g.Single())
            .Select(o => new ShapesQuestion(Colour, $"what colour is the {o.Shape}?", o.Colour)).ToList();

    private static List<ShapesQuestion> ShapeQuestions(ShapesScene scene) =>
        scene.Objects.GroupBy(o => o.Colour).Where(g => g.Count() == 1).Select(g => g.Single())
            .Select(o => new ShapesQuestion(Shape, $"what shape is the {o.Colour} object?", o.Shape)).ToList();

    /// <summary>Half the count questions ask for the total, half for one colour present in the scene.</summary>
    private ShapesQuestion? AskCount(ShapesScene scene, List<ShapesQuestion> asked)
    {
        List<ShapesQuestion> total = [new(Count, "how many objects are there?", NumberWord(scene.Objects.Count))];
        var byColour = scene.Objects.GroupBy(o => o.Colour)
            .Select(g => new ShapesQuestion(Count, $"how many {g.Key} objects are there?", NumberWord(g.Count()))).ToList();
        bool wantTotal = rng.Next(2) == 0;
        return PickFresh(wantTotal ? total : byColour, asked) ?? PickFresh(wantTotal ? byColour : total, asked);
    }

    private ShapesQuestion? AskExistence(ShapesScene scene, List<ShapesQuestion> asked)
    {
        var present = scene.Objects.Select(o => (o.Shape, o.Colour)).Distinct().ToList();
        var absent = Shapes.SelectMany(s => Colours.Select(c => (Shape: s, Colour: c))).Where(p => !present.Contains(p)).ToList();
        bool wantYes = _yes < _no || (_yes == _no && rng.Next(2) == 0);
        foreach (bool yes in new[] { wantYes, !wantYes })
        {
            var pairs = (yes ? present : absent)
                .Select(p => new ShapesQuestion(Existence, $"is there a {p.Colour} {p.Shape}?", yes ? "yes" : "no"))
                .Where(c => !asked.Any(a => a.Question == c.Question)).ToList();
            if (pairs.Count == 0) continue;
            if (yes) _yes++; else _no++;
            return rng.Pick(pairs);
        }
        return null;
    }
}
