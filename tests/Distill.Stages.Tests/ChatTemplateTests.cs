using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class ChatTemplateTests
{
    private static readonly WordTokenizer Tok = WordTokenizer.Build(["what colour is the circle?", "red"]);

    [Fact]
    public void Encode_builds_the_sequence_and_masks_the_answer_and_eos()
    {
        // words: ?=7 circle=8 colour=9 is=10 red=11 the=12 what=13
        var e = ChatTemplate.Encode(Tok, "what colour is the circle?", "red", imageTokens: 3);
        Assert.Equal([1, 5, 4, 4, 4, 13, 9, 10, 12, 8, 7, 6, 11, 2], e.InputIds);
        Assert.Equal(e.InputIds.Length, e.LabelsMask.Length);
        Assert.Equal([12, 13], Enumerable.Range(0, e.LabelsMask.Length).Where(i => e.LabelsMask[i]));
    }

    [Fact]
    public void EncodePrompt_is_the_prefix_up_to_the_assistant_marker()
    {
        var prompt = ChatTemplate.EncodePrompt(Tok, "what colour is the circle?", 2);
        Assert.Equal([1, 5, 4, 4, 13, 9, 10, 12, 8, 7, 6], prompt);
        var full = ChatTemplate.Encode(Tok, "what colour is the circle?", "red", 2);
        Assert.Equal(prompt, full.InputIds[..prompt.Length]);
        Assert.All(full.LabelsMask[..prompt.Length], Assert.False);
    }

    [Fact]
    public void A_question_with_its_own_image_token_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(Tok, "<image>\nwhat colour is the circle?", "red", 2));
        Assert.Contains("<image>", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => ChatTemplate.EncodePrompt(Tok, "what", -1));
    }
}
