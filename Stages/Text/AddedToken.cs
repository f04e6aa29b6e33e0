namespace Distill.Stages.Text;

/// <summary>One entry of a tokenizer.json's <c>added_tokens</c>: matched whole inside the text before anything else
/// (on the raw text, or on the normalized text when <see cref="Normalized"/>); <see cref="LStrip"/> and
/// <see cref="RStrip"/> take the whitespace on that side into the match, <see cref="SingleWord"/> matches only
/// between non-word characters.</summary>
public sealed record AddedToken(int Id, string Content, bool Special, bool Normalized, bool LStrip, bool RStrip, bool SingleWord)
{
    public static AddedToken Read(TokenizerJsonNode node)
    {
        var content = node.Required("content");
        if (content.String().Length == 0) throw content.Error("is empty");
        return new AddedToken(node.Required("id").Int(), content.String(), node.Optional("special").Bool(false),
            node.Optional("normalized").Bool(true), node.Optional("lstrip").Bool(false), node.Optional("rstrip").Bool(false),
            node.Optional("single_word").Bool(false));
    }
}
