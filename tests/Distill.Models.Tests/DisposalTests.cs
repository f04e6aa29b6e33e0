using Distill.Models.Generation;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class DisposalTests
{
    [Fact]
    public void ForwardAndGenerationLeaveNoLiveTensorsBehind()
    {
        using var model = Tiny();
        using var pixels = Pixels(2, 1);
        var prompts = new[] { Prompt(5, 6, 7), Prompt(8) };
        using (torch.no_grad())
        {
            // Warm-up (lazy allocations), then count.
            using (var warm = model.Forward(pixels, Ids(prompts[0], prompts[0]))) { }
            var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
            using (var ids = Ids(Prompt(5, 6, 7), Prompt(8, 9, 10)))
            using (var logits = model.Forward(pixels, ids)) Assert.Equal(3, logits.dim());
            model.GenerateGreedy(pixels, prompts, 3, Eos, Pad);
            Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
            using var probe = torch.zeros(1);                                   // the counter does count
            Assert.Equal(before + 1, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
        }
    }
}
