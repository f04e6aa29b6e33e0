using System.Text;
using System.Text.RegularExpressions;

namespace Distill.Stages.Scoring;

/// <summary>VQA-style normalised exact match for answers on real data: both answers are normalised as the VQA
/// evaluation does (lower case; commas inside numbers and periods outside numbers dropped; other punctuation removed,
/// or a space where it separates words; number words zero to ten as digits; the articles a, an, the dropped; common
/// contractions without their apostrophe restored; white space folded) and then compared exactly.</summary>
public static partial class VqaAnswer
{
    private static readonly Dictionary<string, string> Numbers = new(StringComparer.Ordinal)
    {
        ["none"] = "0", ["zero"] = "0", ["one"] = "1", ["two"] = "2", ["three"] = "3", ["four"] = "4", ["five"] = "5",
        ["six"] = "6", ["seven"] = "7", ["eight"] = "8", ["nine"] = "9", ["ten"] = "10",
    };

    private static readonly HashSet<string> Articles = ["a", "an", "the"];

    private static readonly Dictionary<string, string> Contractions = new(StringComparer.Ordinal)
    {
        ["arent"] = "aren't", ["cant"] = "can't", ["couldnt"] = "couldn't", ["didnt"] = "didn't", ["doesnt"] = "doesn't",
        ["dont"] = "don't", ["hasnt"] = "hasn't", ["havent"] = "haven't", ["isnt"] = "isn't", ["shouldnt"] = "shouldn't",
        ["wasnt"] = "wasn't", ["werent"] = "weren't", ["wont"] = "won't", ["wouldnt"] = "wouldn't", ["im"] = "i'm",
        ["ive"] = "i've", ["youre"] = "you're", ["theyre"] = "they're", ["thats"] = "that's", ["whats"] = "what's",
    };

    private const string Punctuation = ";/[]\"{}()=+\\_-><@`,?!*#%^&$~|:";

    [GeneratedRegex(@"(?<=\d),(?=\d)")]
    private static partial Regex CommaInNumber();

    [GeneratedRegex(@"(?<!\d)\.(?!\d)")]
    private static partial Regex PeriodOutsideNumber();

    /// <summary>The normalised form of <paramref name="answer"/>.</summary>
    public static string Normalize(string answer)
    {
        var text = answer.Replace('\n', ' ').Replace('\t', ' ').Trim().ToLowerInvariant();
        text = CommaInNumber().Replace(text, "");
        var spaced = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (Punctuation.Contains(c))
            {
                // Punctuation between two words separates them; at a word's edge it just goes.
                bool between = i > 0 && i < text.Length - 1 && text[i - 1] != ' ' && text[i + 1] != ' ';
                if (between) spaced.Append(' ');
            }
            else spaced.Append(c);
        }
        text = PeriodOutsideNumber().Replace(spaced.ToString(), "");
        var words = text.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(w => Numbers.GetValueOrDefault(w, w))
            .Where(w => !Articles.Contains(w))
            .Select(w => Contractions.GetValueOrDefault(w, w));
        return string.Join(' ', words);
    }

    /// <summary>True when the two answers are equal after <see cref="Normalize"/>.</summary>
    public static bool Matches(string predicted, string reference) => Normalize(predicted) == Normalize(reference);
}
