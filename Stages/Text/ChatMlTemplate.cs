namespace Distill.Stages.Text;

/// <summary>Qwen's ChatML: <c>&lt;|im_start|&gt;{role}\n{content}&lt;|im_end|&gt;\n</c> per turn, with Qwen2's default
/// system turn ("You are a helpful assistant."); the label span is "{a}&lt;|im_end|&gt;".</summary>
public sealed class ChatMlTemplate : ConversationTemplate
{
    public const string DefaultSystem = "You are a helpful assistant.";

    public override string Name => "chatml";
    public override string EndOfTurn => "<|im_end|>";

    protected override IEnumerable<(string Text, bool Answer)> Render(IReadOnlyList<(bool Human, string Text)> turns)
    {
        yield return ($"<|im_start|>system\n{DefaultSystem}<|im_end|>\n", false);
        foreach (var (human, text) in turns)
            if (human) yield return ($"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n", false);
            else
            {
                yield return ($"{text}<|im_end|>", true);
                yield return ("\n", false);
            }
    }
}
