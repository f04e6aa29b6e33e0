namespace Distill.Stages.Data;

/// <summary>The closed world of the Shapes benchmark: every shape, colour, size, number word and question family.</summary>
public static class ShapesVocabulary
{
    public static readonly IReadOnlyList<string> Shapes = ["circle", "square", "triangle", "diamond"];
    public static readonly IReadOnlyList<string> Colours = ["red", "green", "blue", "yellow", "purple"];
    public static readonly IReadOnlyList<string> Sizes = ["small", "large"];

    /// <summary>Number words indexed by value ("zero".."nine"); a 3x3 grid holds at most nine objects.</summary>
    public static readonly IReadOnlyList<string> NumberWords =
        ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    public const string Colour = "colour", Shape = "shape", Count = "count", Position = "position", Relation = "relation",
        Existence = "existence", Caption = "caption";
    public static readonly IReadOnlyList<string> Families = [Colour, Shape, Count, Position, Relation, Existence, Caption];

    /// <summary>POPE probe settings of the existence family: negatives drawn uniformly (random), from the most
    /// frequent objects (popular), or sharing a colour or a shape with an object in the scene (adversarial).</summary>
    public const string PopeRandom = "random", PopePopular = "popular", PopeAdversarial = "adversarial";
    public static readonly IReadOnlyList<string> ProbeSettings = [PopeRandom, PopePopular, PopeAdversarial];

    /// <summary>Relative frequency of each shape and colour in generated scenes (same order as <see cref="Shapes"/>
    /// and <see cref="Colours"/>). Mildly skewed, so that "popular" objects exist for the POPE popular setting.</summary>
    public static readonly IReadOnlyList<double> ShapeWeights = [0.35, 0.3, 0.2, 0.15];
    public static readonly IReadOnlyList<double> ColourWeights = [0.3, 0.25, 0.2, 0.15, 0.1];

    /// <summary>Answers of the position family, indexed by grid cell (row-major).</summary>
    public static readonly IReadOnlyList<string> PositionWords =
        ["top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"];

    /// <summary>Spatial relations between two objects, by grid cell: left of / right of compare columns,
    /// above / below compare rows.</summary>
    public static readonly IReadOnlyList<string> Relations = ["left of", "right of", "above", "below"];

    public const int GridSize = 3;
    public const int Cells = GridSize * GridSize;

    public static readonly IReadOnlyList<string> Splits = ["train", "val", "test"];

    /// <summary>RGB of each colour name, chosen to stay distinct on the light background after downscaling.</summary>
    public static (byte R, byte G, byte B) Rgb(string colour) => colour switch
    {
        "red" => (220, 40, 40),
        "green" => (40, 160, 60),
        "blue" => (40, 80, 220),
        "yellow" => (230, 190, 20),
        "purple" => (140, 50, 180),
        _ => throw new ArgumentException($"Unknown colour '{colour}'; allowed: {string.Join(", ", Colours)}", nameof(colour)),
    };

    public static readonly (byte R, byte G, byte B) Background = (242, 242, 236);

    public static string NumberWord(int n) =>
        n >= 0 && n < NumberWords.Count ? NumberWords[n] : throw new ArgumentOutOfRangeException(nameof(n), n, "no number word");
}
