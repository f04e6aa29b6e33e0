using Distill.Stages.Scoring;
using Distill.Stages.Evaluation;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class VqaAnswerTests
{
    [Theory]
    [InlineData("Two dogs.", "2 dogs")]
    [InlineData("The red one", "red 1")]
    [InlineData("  Yes!  ", "yes")]
    [InlineData("3,000", "3000")]
    [InlineData("1.5 meters", "1.5 meters")]
    [InlineData("black-and-white", "black and white")]
    [InlineData("dont know", "don't know")]
    [InlineData("A cat, sleeping.", "cat sleeping")]
    [InlineData("none", "0")]
    public void Answers_normalise_as_the_vqa_evaluation_does(string answer, string expected) =>
        Assert.Equal(expected, VqaAnswer.Normalize(answer));

    [Fact]
    public void Matching_compares_the_normalised_forms()
    {
        Assert.True(VqaAnswer.Matches("Two.", "2"));
        Assert.True(VqaAnswer.Matches("The Kitchen", "kitchen"));
        Assert.False(VqaAnswer.Matches("two cats", "3 cats"));
        Assert.False(VqaAnswer.Matches("yes", "no"));
    }
}
