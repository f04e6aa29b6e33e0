using Distill.Stages.Data;
using Distill.Stages.Text;

namespace Distill.Stages.Arrow;

/// <summary>Turns a Shapes sample into a <c>samples/v1</c> row: its image as packed RGB and its conversation through
/// <see cref="ChatTemplate"/>.</summary>
public static class SampleEncoder
{
    /// <param name="image">The sample's packed RGB image (called once, after the conversation is checked), so that the
    /// questions of one scene can share one image array.</param>
    public static SampleRow Encode(QuestionSample sample, WordTokenizer tokenizer, int imageTokens, Func<QuestionSample, byte[]> image)
    {
        ArgumentNullException.ThrowIfNull(sample);
        ArgumentNullException.ThrowIfNull(tokenizer);
        var human = sample.Conversations.FirstOrDefault(t => t.From == "human")
            ?? throw new InvalidDataException($"Sample '{sample.Id}' has no human turn");
        var gpt = sample.Conversations.FirstOrDefault(t => t.From == "gpt")
            ?? throw new InvalidDataException($"Sample '{sample.Id}' has no gpt turn");
        if (!human.Value.StartsWith(QuestionSample.ImagePrefix, StringComparison.Ordinal))
            throw new InvalidDataException($"Sample '{sample.Id}': the human turn does not start with \"<image>\\n\"");
        string question = human.Value[QuestionSample.ImagePrefix.Length..];
        EncodedSample encoded;
        try { encoded = ChatTemplate.Encode(tokenizer, question, gpt.Value, imageTokens); }
        catch (ArgumentException e) { throw new InvalidDataException($"Sample '{sample.Id}': {e.Message}", e); }
        return new SampleRow(sample.Id, image(sample), encoded.InputIds, encoded.LabelsMask, sample.Task, sample.Answer);
    }
}
