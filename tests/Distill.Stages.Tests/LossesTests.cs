using Distill.Stages.Losses;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

public class LossesTests
{
    [Fact]
    public void MaskedCrossEntropyAveragesSelectedTokens()
    {
        using var scope = torch.NewDisposeScope();
        // Row 0: logits [0, 0] -> CE ln 2 = 0.6931472; row 1: logits [ln 3, 0], target 0 -> -ln 0.75 = 0.2876821;
        // row 2 is masked out.
        var logits = torch.tensor(new float[] { 0, 0, MathF.Log(3), 0, 9, -9 }, [3, 2]);
        var targets = torch.tensor(new long[] { 1, 0, 1 });
        var perToken = TokenLoss.CrossEntropy(logits, targets).data<float>().ToArray();
        Assert.Equal(0.6931472, perToken[0], 5);
        Assert.Equal(0.2876821, perToken[1], 5);
        var mask = torch.tensor(new[] { true, true, false });
        Assert.Equal((0.6931472 + 0.2876821) / 2, TokenLoss.MaskedCrossEntropy(logits, targets, mask).item<float>(), 5);
    }

    [Fact]
    public void EmptyMaskGivesZeroNotNaN()
    {
        using var scope = torch.NewDisposeScope();
        var logits = torch.zeros(2, 3, requires_grad: true);
        var loss = TokenLoss.MaskedCrossEntropy(logits, torch.tensor(new long[] { 0, 1 }), torch.zeros(2, dtype: ScalarType.Bool));
        Assert.Equal(0f, loss.item<float>());
        loss.backward();
        Assert.Equal(0f, logits.grad!.abs().sum().item<float>());
    }
}
