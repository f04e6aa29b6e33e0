using Distill.Stages.Text;

namespace Distill.Stages.Evaluation;

/// <summary>Exact match after the tokenizer's normalisation (lower case, word/punctuation spacing), so a reference
/// and a decoded generation compare on the same footing.</summary>
public static class AnswerMatch
{
    public static string Normalise(WordTokenizer tokenizer, string text) => tokenizer.Decode(tokenizer.Encode(text)).Trim();

    public static bool IsExact(WordTokenizer tokenizer, string generated, string reference) =>
        string.Equals(Normalise(tokenizer, generated), Normalise(tokenizer, reference), StringComparison.Ordinal);
}
