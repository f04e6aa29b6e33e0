namespace Distill.Stages.Text;

/// <summary>Llama 3's template: <c>&lt;|begin_of_text|&gt;</c>, then per turn
/// <c>&lt;|start_header_id|&gt;{role}&lt;|end_header_id|&gt;\n\n{content, trimmed}&lt;|eot_id|&gt;</c>; the label span is
/// "{a}&lt;|eot_id|&gt;".</summary>
public sealed class Llama3Template : ConversationTemplate
{
    public override string Name => "llama3";
    public override string EndOfTurn => "<|eot_id|>";

    protected override IEnumerable<(string Text, bool Answer)> Render(IReadOnlyList<(bool Human, string Text)> turns)
    {
        yield return ("<|begin_of_text|>", false);
        foreach (var (human, text) in turns)
            if (human) yield return ($"<|start_header_id|>user<|end_header_id|>\n\n{text.Trim()}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", false);
            else yield return ($"{text.Trim()}<|eot_id|>", true);
    }
}
