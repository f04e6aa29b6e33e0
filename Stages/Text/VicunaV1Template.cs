namespace Distill.Stages.Text;

/// <summary>LLaVA-1.5's <c>vicuna_v1</c>: <c>&lt;s&gt;{system} USER: {q} ASSISTANT: {a}&lt;/s&gt;USER: ...</c>
/// (LLaVA's <c>conv_vicuna_v1</c>: separators " " and "&lt;/s&gt;"); the label span is " {a}&lt;/s&gt;".</summary>
public sealed class VicunaV1Template : ConversationTemplate
{
    public const string DefaultSystem =
        "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the human's questions.";

    public override string Name => "vicuna_v1";
    public override string EndOfTurn => "</s>";
    protected override bool PrependBos => true;

    protected override IEnumerable<(string Text, bool Answer)> Render(IReadOnlyList<(bool Human, string Text)> turns)
    {
        yield return (DefaultSystem, false);
        foreach (var (human, text) in turns)
            if (human) yield return ($" USER: {text} ASSISTANT:", false);
            else yield return ($" {text}</s>", true);
    }
}
