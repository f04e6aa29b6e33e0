using Distill.Stages.Distillation;
using Xunit;

namespace Distill.Stages.Tests;

public class PredictingPositionsTests
{
    // <s> <|user|> q q <|assistant|> a a </s>: labels on a, a, </s> (indices 5, 6, 7)
    private static readonly bool[] Labels = { false, false, false, false, false, true, true, true };

    [Fact]
    public void ResponseScopeTakesThePositionsThatPredictLabelledTokens() =>
        Assert.Equal(new[] { 4, 5, 6 }, PredictingPositions.Of(Labels, TokenScope.Response));

    [Fact]
    public void AllScopeTakesEveryPositionWithANextToken() =>
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5, 6 }, PredictingPositions.Of(Labels, TokenScope.All));

    [Fact]
    public void ParsesScopeNamesAndRejectsOthers()
    {
        Assert.Equal(TokenScope.All, TokenScopes.Parse("all"));
        var error = Assert.Throws<ArgumentException>(() => TokenScopes.Parse("everything"));
        Assert.Contains("response, all", error.Message);
    }
}
