namespace Distill.Stages.Data.Llava;

/// <summary>One turn of a LLaVA conversation: <c>from</c> is <c>human</c> or <c>gpt</c>.</summary>
public sealed record ConversationTurn(string From, string Value)
{
    public const string Human = "human", Gpt = "gpt";

    public bool IsHuman => From == Human;
}

/// <summary>One sample of a LLaVA conversation dataset: its id, its image as an absolute path inside the image folder
/// (null for a text-only sample), and its turns, human first, alternating, ending with a <c>gpt</c> answer.
/// <see cref="Source"/> is the file it came from; the image placeholder <see cref="ImageToken"/> stands once in the
/// first human turn when there is an image (where the dataset put it, or prepended with a newline as LLaVA does when
/// the dataset left it out).</summary>
public sealed record ConversationSample(string Id, string? Image, IReadOnlyList<ConversationTurn> Turns, string Source)
{
    public const string ImageToken = "<image>";

    public bool HasImage => Image is not null;
}
