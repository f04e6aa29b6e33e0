using Distill.Stages.Text;

namespace Distill.Stages.Scoring;

/// <summary>How a generated answer meets its reference: both normalised the same way, then compared exactly.
/// Shapes normalises through its word tokenizer (lower case, word/punctuation spacing); real data as the VQA
/// evaluation does (<see cref="VqaAnswer"/>).</summary>
public sealed class AnswerMatch(Func<string, string> normalise)
{
    /// <summary>VQA-style normalisation (numbers, articles, punctuation, contractions).</summary>
    public static AnswerMatch Vqa { get; } = new(VqaAnswer.Normalize);

    /// <summary>The word tokenizer's round trip (Shapes).</summary>
    public static AnswerMatch Words(WordTokenizer tokenizer) => new(text => tokenizer.Decode(tokenizer.Encode(text)).Trim());

    public string Normalise(string text) => normalise(text);

    public bool IsExact(string generated, string reference) =>
        string.Equals(Normalise(generated), Normalise(reference), StringComparison.Ordinal);
}
