using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Distill.Stages.Text;

/// <summary>A pre-tokenizer regex matched over code points, as Hugging Face's (Oniguruma) regexes match. .NET's regex
/// sees UTF-16 units, so a character outside the BMP is two surrogates that match neither <c>\p{L}</c> nor
/// <c>\p{N}</c>, and an optional one-character class can take half of it. Before matching, every surrogate pair is
/// replaced by one BMP character of the same Unicode category; the matches are then mapped back to the text.</summary>
public sealed class CodePointRegex
{
    private readonly Regex _regex;

    public CodePointRegex(string pattern)
    {
        Pattern = pattern;
        _regex = new Regex(pattern, RegexOptions.CultureInvariant | RegexOptions.Compiled);
    }

    public string Pattern { get; }

    /// <summary>Start and length (in UTF-16 units of <paramref name="text"/>) of every match, in order.</summary>
    public List<(int Start, int Length)> Matches(string text)
    {
        var found = new List<(int, int)>();
        if (!HasSurrogates(text))
        {
            foreach (Match m in _regex.Matches(text))
                if (m.Length > 0) found.Add((m.Index, m.Length));
            return found;
        }
        // offsets[i] = where stand-in character i starts in text; offsets[^1] = text.Length.
        var standIn = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (int i = 0; i < text.Length; i++)
        {
            offsets.Add(i);
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                standIn.Append(StandIn(CharUnicodeInfo.GetUnicodeCategory(char.ConvertToUtf32(text[i], text[i + 1]))));
                i++;
            }
            else standIn.Append(text[i]);
        }
        offsets.Add(text.Length);
        foreach (Match m in _regex.Matches(standIn.ToString()))
            if (m.Length > 0)
                found.Add((offsets[m.Index], offsets[m.Index + m.Length] - offsets[m.Index]));
        return found;
    }

    private static bool HasSurrogates(string text)
    {
        foreach (char c in text)
            if (char.IsSurrogate(c)) return true;
        return false;
    }

    /// <summary>A BMP character of <paramref name="category"/>, none of them ASCII (patterns name ASCII literally).</summary>
    private static char StandIn(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u00C0',
        UnicodeCategory.LowercaseLetter => '\u00E0',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u00AA',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        UnicodeCategory.Format => '\u00AD',
        UnicodeCategory.PrivateUse => '\uE000',
        UnicodeCategory.ConnectorPunctuation => '\u203F',
        UnicodeCategory.DashPunctuation => '\u2010',
        UnicodeCategory.OpenPunctuation => '\u2045',
        UnicodeCategory.ClosePunctuation => '\u2046',
        UnicodeCategory.InitialQuotePunctuation => '\u00AB',
        UnicodeCategory.FinalQuotePunctuation => '\u00BB',
        UnicodeCategory.OtherPunctuation => '\u00A1',
        UnicodeCategory.MathSymbol => '\u00AC',
        UnicodeCategory.CurrencySymbol => '\u00A2',
        UnicodeCategory.ModifierSymbol => '\u00A8',
        UnicodeCategory.OtherSymbol => '\u00A9',
        _ => '\u0378', // unassigned
    };
}
