using Distill.Stages.Evaluation;
using Xunit;

namespace Distill.Stages.Tests;

public class PopeMetricsTests
{
    private static Prediction P(string reference, string generated, string? probe = "random") =>
        new("s" + Guid.NewGuid().ToString("N")[..6], "existence", "is there a red circle?", reference, generated,
            reference == generated) { Probe = probe };

    [Fact]
    public void Scores_one_setting_by_hand()
    {
        // References yes, yes, yes, no, no; answers yes (TP), no (FN), "maybe" (unanswered, FN), yes (FP), no (TN).
        var score = Assert.Single(PopeMetrics.Compute([P("yes", "yes"), P("yes", "no"), P("yes", "maybe"), P("no", "yes"), P("no", "no")]));
        Assert.Equal(("random", 3, 2, 1, 1, 1, 1), (score.Setting, score.Positives, score.Negatives, score.TruePositives, score.FalsePositives, score.TrueNegatives, score.Unanswered));
        Assert.Equal(2, score.FalseNegatives);
        Assert.Equal(0.4, score.Accuracy, 12);      // (1 + 1) / 5
        Assert.Equal(0.5, score.Precision, 12);     // 1 / (1 + 1)
        Assert.Equal(1.0 / 3, score.Recall, 12);    // 1 / 3
        Assert.Equal(0.4, score.F1, 12);            // 2 * 0.5 * (1/3) / (0.5 + 1/3) = (1/3) / (5/6)
        Assert.Equal(0.4, score.YesRatio, 12);      // 2 yes answers / 5
    }

    [Fact]
    public void Groups_by_setting_in_pope_order_and_keeps_unlabelled_probes()
    {
        var scores = PopeMetrics.Compute([
            P("no", "no", "adversarial"), P("yes", "yes", null), P("yes", "yes", "popular"), P("no", "yes", "random"), P("yes", "yes", "popular"),
        ]);
        Assert.Equal(["random", "popular", "adversarial", PopeMetrics.UnlabelledSetting], scores.Select(s => s.Setting));
        Assert.Equal([1, 2, 1, 1], scores.Select(s => s.Total));
        Assert.Equal(1.0, scores[1].Accuracy);
        Assert.Equal(0.0, scores[0].Accuracy);
        Assert.Equal(1.0, scores[0].YesRatio);
    }

    [Fact]
    public void A_model_that_never_says_yes_has_zero_precision_recall_and_f1()
    {
        var score = Assert.Single(PopeMetrics.Compute([P("yes", "no"), P("no", "no"), P("no", "")]));
        Assert.Equal((0.0, 0.0, 0.0, 0.0), (score.Precision, score.Recall, score.F1, score.YesRatio));
        Assert.Equal(1.0 / 3, score.Accuracy, 12);
        Assert.Equal(1, score.Unanswered);
        Assert.Empty(PopeMetrics.Compute([]));
    }

    [Theory]
    [InlineData("yes", true)]
    [InlineData("Yes.", true)]
    [InlineData("  no , there is not", false)]
    [InlineData("NO", false)]
    [InlineData("yesterday", null)]
    [InlineData("maybe yes", null)]
    [InlineData("", null)]
    public void Parses_the_first_word(string generated, bool? expected) =>
        Assert.Equal(expected, PopeMetrics.ParseYesNo(generated));

    [Fact]
    public void A_reference_that_is_not_yes_or_no_is_an_error_naming_the_sample()
    {
        var bad = new Prediction("test_00003_01", "existence", "q", "two", "yes", false) { Probe = "random" };
        var e = Assert.Throws<ArgumentException>(() => PopeMetrics.Compute([bad]));
        Assert.Contains("test_00003_01", e.Message);
    }
}
