namespace Distill.Stages.Data;

/// <summary>One LLaVA conversation turn: <c>from</c> is "human" or "gpt".</summary>
public sealed record Turn(string From, string Value);

/// <summary>One question about one scene, as stored in LLaVA conversation JSON.
/// <paramref name="Image"/> is relative to the dataset directory; the human turn starts with "&lt;image&gt;\n".</summary>
public sealed record ShapesSample(string Id, string Image, string Task, string Question, string Answer, IReadOnlyList<Turn> Conversations)
{
    /// <summary>What the human turn starts with: the image placeholder and a newline.</summary>
    public const string ImagePrefix = "<image>\n";

    /// <summary>POPE setting of an existence probe (random, popular, adversarial); null for other families.</summary>
    public string? Probe { get; init; }
}
