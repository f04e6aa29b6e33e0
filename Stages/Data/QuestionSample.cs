namespace Distill.Stages.Data;

/// <summary>One LLaVA conversation turn: <c>from</c> is "human" or "gpt".</summary>
public sealed record Turn(string From, string Value);

/// <summary>One question about one image, with its reference answer: a Shapes question (<paramref name="Image"/>
/// relative to the dataset directory), or on real data a held-out conversation's first exchange, a POPE probe or a
/// CHAIR caption prompt (<paramref name="Image"/> absolute). <paramref name="Task"/> is its question family (Shapes'
/// families; real data's <c>vqa</c>, <c>existence</c> and <c>caption</c>); the human turn starts with "&lt;image&gt;\n".</summary>
public sealed record QuestionSample(string Id, string Image, string Task, string Question, string Answer, IReadOnlyList<Turn> Conversations)
{
    /// <summary>What the human turn starts with: the image placeholder and a newline.</summary>
    public const string ImagePrefix = "<image>\n";

    /// <summary>POPE setting of an existence probe (random, popular, adversarial); null for other families.</summary>
    public string? Probe { get; init; }
}
