namespace Distill.Stages.Text;

/// <summary>A <c>pattern</c> of a tokenizer.json (<c>{"String": "…"}</c> or <c>{"Regex": "…"}</c>).</summary>
public sealed class TextPattern
{
    private readonly CodePointRegex _regex;

    private TextPattern(CodePointRegex regex) => _regex = regex;

    /// <summary>A pattern of a regex written in code.</summary>
    public static TextPattern OfRegex(string pattern) => new(new CodePointRegex(pattern));

    public static TextPattern Read(TokenizerJsonNode node)
    {
        var literal = node.Optional("String");
        if (!literal.IsNull) return new TextPattern(new CodePointRegex(System.Text.RegularExpressions.Regex.Escape(literal.String())));
        var regex = node.Optional("Regex");
        if (!regex.IsNull) return new TextPattern(new CodePointRegex(regex.String()));
        throw node.Error("must hold 'String' or 'Regex'");
    }

    public List<(int Start, int Length)> Matches(string text) => _regex.Matches(text);

    /// <summary>Every match replaced by <paramref name="content"/>, taken literally.</summary>
    public Func<string, string> ReplaceWith(string content) => text =>
    {
        var matches = Matches(text);
        if (matches.Count == 0) return text;
        var sb = new System.Text.StringBuilder(text.Length);
        int at = 0;
        foreach (var (start, length) in matches)
        {
            sb.Append(text, at, start - at).Append(content);
            at = start + length;
        }
        return sb.Append(text, at, text.Length - at).ToString();
    };
}
