using Distill.Stages.Scoring;
using Distill.Stages.Data;
using Distill.Stages.Evaluation;
using Xunit;

namespace Distill.Stages.Tests;

public class ChairMetricsTests
{
    private static SceneObject O(string size, string colour, string shape) => new(shape, colour, size, 0, 0, 0, 0);

    [Fact]
    public void Parses_reference_captions_into_colour_shape_mentions()
    {
        var mentions = CaptionObjects.Parse("a small red circle, a large blue square and a small green triangle.");
        Assert.Equal(["red circle", "blue square", "green triangle"], mentions.Select(m => m.ToString()));
    }

    [Theory]
    [InlineData("a red small circle", "red circle")]                 // size between colour and shape
    [InlineData("Two RED circles!", "red circle")]                   // case, plural, punctuation
    [InlineData("a circle", "circle")]                               // bare shape
    [InlineData("a red thing and a blue", "")]                       // colours without a shape name nothing
    [InlineData("a red circle and a red circle", "red circle|red circle")] // repeated mention counts twice
    [InlineData("an empty image.", "")]
    [InlineData("a purple diamond,a yellow square", "purple diamond|yellow square")]
    public void Parses_tolerantly(string caption, string expected) =>
        Assert.Equal(expected, string.Join("|", CaptionObjects.Parse(caption)));

    [Fact]
    public void Judges_a_caption_against_its_scene()
    {
        var scene = new[] { O("small", "red", "circle"), O("large", "blue", "square"), O("small", "blue", "square") };
        // red circle: present (size differs, not an object hallucination); green square: absent; blue square: present;
        // triangle: no triangle in the scene.
        var judged = ChairMetrics.Judge("a large red circle, a green square, a blue square and a triangle.", scene);
        Assert.Equal(4, judged.Mentions.Count);
        Assert.Equal(["green square", "triangle"], judged.Hallucinated.Select(m => m.ToString()));
        Assert.Equal(2, judged.SceneObjects);          // red circle, blue square (two blue squares are one object kind)
        Assert.Equal(2, judged.MentionedSceneObjects);
    }

    [Fact]
    public void Chair_i_and_chair_s_by_hand_with_a_silent_caption_and_repeated_hallucinations()
    {
        var captions = new[]
        {
            ChairMetrics.Judge("a red circle, a green square, a blue square and a triangle.",
                [O("small", "red", "circle"), O("large", "blue", "square")]),              // 4 mentions, 2 hallucinated
            ChairMetrics.Judge("an empty image.", [O("small", "green", "triangle")]),        // no mention
            ChairMetrics.Judge("a yellow diamond. a yellow diamond.", [O("small", "red", "circle")]), // 2 mentions, both hallucinated
        };
        var score = ChairMetrics.Compute(captions);
        Assert.Equal((3, 2, 6, 4, 1), (score.Captions, score.HallucinatingCaptions, score.Mentions, score.HallucinatedMentions, score.CaptionsWithoutMentions));
        Assert.Equal(4.0 / 6, score.ChairI, 12);
        Assert.Equal(2.0 / 3, score.ChairS, 12);
        Assert.Equal(0.5, score.ObjectRecall, 12);     // mentioned 2 of 2 + 0 of 1 + 0 of 1 scene objects
    }

    [Fact]
    public void No_captions_or_no_mentions_score_zero()
    {
        var none = ChairMetrics.Compute([]);
        Assert.Equal((0.0, 0.0, 0.0), (none.ChairI, none.ChairS, none.ObjectRecall));
        var silent = ChairMetrics.Compute([ChairMetrics.Judge("", [O("small", "red", "circle")])]);
        Assert.Equal((0.0, 0.0, 0.0, 1), (silent.ChairI, silent.ChairS, silent.ObjectRecall, silent.CaptionsWithoutMentions));
    }
}
