namespace Distill.Stages.Text;

/// <summary>Cuts a text at the added tokens written in it, leftmost match first and of two at one place the longer,
/// as Hugging Face's added vocabulary does; the pieces between are left for normalization and BPE.</summary>
public sealed class AddedTokenSplitter
{
    private readonly Dictionary<char, AddedToken[]> _byFirstChar;

    public AddedTokenSplitter(IEnumerable<AddedToken> tokens)
    {
        _byFirstChar = tokens.GroupBy(t => t.Content[0])
            .ToDictionary(g => g.Key, g => g.OrderByDescending(t => t.Content.Length).ToArray());
    }

    /// <summary>The text as pieces in order: an added token (its id) or the text between (Start: where it begins).</summary>
    public List<(string Text, int? TokenId, int Start)> Split(string text)
    {
        var pieces = new List<(string, int?, int)>();
        if (_byFirstChar.Count == 0) { pieces.Add((text, null, 0)); return pieces; }
        int plain = 0; // start of the text not yet given out
        for (int i = 0; i < text.Length; i++)
        {
            if (!_byFirstChar.TryGetValue(text[i], out var candidates)) continue;
            foreach (var token in candidates)
            {
                if (!Matches(text, i, token, plain, out int from, out int to)) continue;
                if (from > plain) pieces.Add((text[plain..from], null, plain));
                pieces.Add((text[from..to], token.Id, from));
                plain = to;
                i = to - 1;
                break;
            }
        }
        if (plain < text.Length) pieces.Add((text[plain..], null, plain));
        return pieces;
    }

    private static bool Matches(string text, int at, AddedToken token, int plain, out int from, out int to)
    {
        from = at;
        to = at + token.Content.Length;
        if (!text.AsSpan(at).StartsWith(token.Content, StringComparison.Ordinal)) return false;
        if (token.SingleWord && ((at > 0 && IsWordChar(text[at - 1])) || (to < text.Length && IsWordChar(text[to]))))
            return false;
        if (token.LStrip) while (from > plain && char.IsWhiteSpace(text[from - 1])) from--;
        if (token.RStrip) while (to < text.Length && char.IsWhiteSpace(text[to])) to++;
        return true;
    }

    private static bool IsWordChar(char c) => char.IsLetterOrDigit(c) || c == '_';
}
