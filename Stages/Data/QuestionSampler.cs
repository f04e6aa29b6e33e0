using static Distill.Stages.Data.ShapesVocabulary;

namespace Distill.Stages.Data;

/// <summary>Asks the questions of one split. Families cycle over the split (question n of the split starts at
/// entry n mod F of the cycle, where existence appears <see cref="ShapesOptions.ExistenceWeight"/> times), so each
/// family gets its share of the questions; a family that cannot be asked about a scene (no uniquely described
/// object, or every candidate already asked) hands over to the next one. Yes/no answers are kept balanced per
/// family and per POPE setting: the sampler asks for whichever of yes/no is behind so far.</summary>
public sealed class QuestionSampler
{
    private readonly DeterministicRandom _rng;
    private readonly ShapesOptions _options;
    private readonly IReadOnlyList<string> _cycle;
    private readonly Dictionary<string, (int Yes, int No)> _balance = new(StringComparer.Ordinal);
    private int _asked, _existenceAsked;

    public QuestionSampler(DeterministicRandom rng, ShapesOptions options)
    {
        _rng = rng;
        _options = options;
        _cycle = Cycle(options.Families, options.ExistenceWeight);
    }

    /// <summary>The family cycle: each family once, existence <paramref name="existenceWeight"/> times in a row.</summary>
    public static IReadOnlyList<string> Cycle(IReadOnlyList<string> families, int existenceWeight) =>
        families.SelectMany(f => Enumerable.Repeat(f, f == Existence ? existenceWeight : 1)).ToList();

    public IReadOnlyList<ShapesQuestion> For(ShapesScene scene)
    {
        var result = new List<ShapesQuestion>(_options.QuestionsPerScene);
        for (int q = 0; q < _options.QuestionsPerScene; q++, _asked++)
        {
            ShapesQuestion? next = null;
            // First pass: a question not yet asked about this scene; second pass: repeats allowed.
            for (int pass = 0; pass < 2 && next is null; pass++)
                for (int t = 0; t < _cycle.Count && next is null; t++)
                    next = TryAsk(_cycle[(_asked + t) % _cycle.Count], scene, pass == 0 ? result : []);
            result.Add(next ?? throw new InvalidOperationException(
                $"No question family of [{string.Join(", ", _options.Families)}] can be asked about scene {scene.Id}"));
        }
        return result;
    }

    private ShapesQuestion? TryAsk(string family, ShapesScene scene, List<ShapesQuestion> asked) => family switch
    {
        Colour => PickFresh(ColourQuestions(scene), asked),
        Shape => PickFresh(ShapeQuestions(scene), asked),
        Count => AskCount(scene, asked),
        Position => PickFresh(PositionQuestions(scene), asked),
        Relation => AskRelation(scene, asked),
        Existence => AskExistence(scene, asked),
        Caption => PickFresh([new ShapesQuestion(Caption, "describe the image.", Captions.Of(scene))], asked),
        _ => throw new ArgumentException($"Unknown family '{family}'; allowed: {string.Join(", ", Families)}"),
    };

    private ShapesQuestion? PickFresh(List<ShapesQuestion> candidates, List<ShapesQuestion> asked)
    {
        var fresh = candidates.Where(c => !asked.Any(a => a.Question == c.Question)).ToList();
        return fresh.Count == 0 ? null : _rng.Pick(fresh);
    }

    private static List<ShapesQuestion> ColourQuestions(ShapesScene scene) =>
        scene.Objects.GroupBy(o => o.Shape).Where(g => g.Count() == 1).Select(g => g.Single())
            .Select(o => new ShapesQuestion(Colour, $"what colour is the {o.Shape}?", o.Colour)).ToList();

    private static List<ShapesQuestion> ShapeQuestions(ShapesScene scene) =>
        scene.Objects.GroupBy(o => o.Colour).Where(g => g.Count() == 1).Select(g => g.Single())
            .Select(o => new ShapesQuestion(Shape, $"what shape is the {o.Colour} object?", o.Shape)).ToList();

    /// <summary>Objects that "the colour shape" names unambiguously: no other object has the same colour and shape.</summary>
    private static List<SceneObject> Unique(ShapesScene scene) =>
        scene.Objects.GroupBy(o => (o.Colour, o.Shape)).Where(g => g.Count() == 1).Select(g => g.Single()).ToList();

    private static List<ShapesQuestion> PositionQuestions(ShapesScene scene) =>
        Unique(scene).Select(o => new ShapesQuestion(Position, $"where is the {o.Colour} {o.Shape}?", PositionWords[o.Cell])).ToList();

    /// <summary>Half the count questions ask for the total, half for one colour present in the scene.</summary>
    private ShapesQuestion? AskCount(ShapesScene scene, List<ShapesQuestion> asked)
    {
        List<ShapesQuestion> total = [new(Count, "how many objects are there?", NumberWord(scene.Objects.Count))];
        var byColour = scene.Objects.GroupBy(o => o.Colour)
            .Select(g => new ShapesQuestion(Count, $"how many {g.Key} objects are there?", NumberWord(g.Count()))).ToList();
        bool wantTotal = _rng.Next(2) == 0;
        return PickFresh(wantTotal ? total : byColour, asked) ?? PickFresh(wantTotal ? byColour : total, asked);
    }

    /// <summary>Whether <paramref name="a"/> stands in <paramref name="relation"/> to <paramref name="b"/> on the grid.</summary>
    public static bool Holds(SceneObject a, string relation, SceneObject b) => relation switch
    {
        "left of" => a.Col < b.Col,
        "right of" => a.Col > b.Col,
        "above" => a.Row < b.Row,
        "below" => a.Row > b.Row,
        _ => throw new ArgumentException($"Unknown relation '{relation}'; allowed: {string.Join(", ", Relations)}"),
    };

    /// <summary>"is the red circle left of the blue square?" over two uniquely named objects, yes/no balanced.</summary>
    private ShapesQuestion? AskRelation(ShapesScene scene, List<ShapesQuestion> asked)
    {
        var unique = Unique(scene);
        var candidates = (from a in unique
                          from b in unique
                          where !ReferenceEquals(a, b)
                          from r in Relations
                          select new ShapesQuestion(Relation, $"is the {a.Colour} {a.Shape} {r} the {b.Colour} {b.Shape}?",
                              Holds(a, r, b) ? "yes" : "no")).ToList();
        return AskBalanced(Relation, candidates, asked);
    }

    /// <summary>POPE probes: a present object (yes) or, for no, an absent object chosen by the probe setting, which
    /// cycles random, popular, adversarial over the split's existence questions.</summary>
    private ShapesQuestion? AskExistence(ShapesScene scene, List<ShapesQuestion> asked)
    {
        string setting = ProbeSettings[_existenceAsked % ProbeSettings.Count];
        var present = scene.Objects.Select(o => (o.Shape, o.Colour)).Distinct().ToList();
        var absent = NegativeProbes(setting, present);
        var candidates = present.Select(p => new ShapesQuestion(Existence, $"is there a {p.Colour} {p.Shape}?", "yes", setting))
            .Concat(absent.Select(p => new ShapesQuestion(Existence, $"is there a {p.Colour} {p.Shape}?", "no", setting)))
            .ToList();
        var q = AskBalanced(Existence + "/" + setting, candidates, asked);
        if (q is not null) _existenceAsked++;
        return q;
    }

    /// <summary>Absent (shape, colour) objects for a POPE setting: random = any absent object; popular = the three
    /// most frequent absent objects (by the generator's shape x colour weights); adversarial = absent objects that
    /// share a shape or a colour with an object in the scene (the attribute-binding near misses a model confuses).</summary>
    public static List<(string Shape, string Colour)> NegativeProbes(string setting, IReadOnlyList<(string Shape, string Colour)> present)
    {
        var absent = Shapes.SelectMany(s => Colours.Select(c => (Shape: s, Colour: c))).Where(p => !present.Contains(p)).ToList();
        return setting switch
        {
            PopeRandom => absent,
            PopePopular => absent.OrderByDescending(Frequency).ThenBy(p => p.Shape, StringComparer.Ordinal)
                .ThenBy(p => p.Colour, StringComparer.Ordinal).Take(3).ToList(),
            PopeAdversarial => absent.Where(p => present.Any(q => q.Shape == p.Shape || q.Colour == p.Colour)).ToList(),
            _ => throw new ArgumentException($"Unknown probe setting '{setting}'; allowed: {string.Join(", ", ProbeSettings)}"),
        };
    }

    /// <summary>Expected frequency of an object in generated scenes: its shape weight times its colour weight.</summary>
    public static double Frequency((string Shape, string Colour) o)
    {
        int s = Shapes.ToList().IndexOf(o.Shape), c = Colours.ToList().IndexOf(o.Colour);
        return ShapeWeights[s] / ShapeWeights.Sum() * ColourWeights[c] / ColourWeights.Sum();
    }

    /// <summary>Picks a fresh yes or no question, whichever answer is behind for <paramref name="key"/> so far.</summary>
    private ShapesQuestion? AskBalanced(string key, List<ShapesQuestion> candidates, List<ShapesQuestion> asked)
    {
        var (yesCount, noCount) = _balance.GetValueOrDefault(key);
        bool wantYes = yesCount < noCount || (yesCount == noCount && _rng.Next(2) == 0);
        foreach (bool yes in new[] { wantYes, !wantYes })
        {
            var q = PickFresh(candidates.Where(c => (c.Answer == "yes") == yes).ToList(), asked);
            if (q is null) continue;
            _balance[key] = yes ? (yesCount + 1, noCount) : (yesCount, noCount + 1);
            return q;
        }
        return null;
    }
}
