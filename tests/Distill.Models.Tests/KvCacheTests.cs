using Distill.Models.Torch;
using Distill.Models.Generation;
using Distill.Models.Language;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class KvCacheTests
{
    [Fact]
    public void StepPositionsAndMasksContinueTheFullRecompute()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var cache = new KvCache(layers: 1);
        var prompt = torch.tensor(new long[] { 0, 0, 1, 1, 1, 1, 1, 1 }, [2, 4]);             // row 0 left-padded
        var (p0, a0) = cache.BeginStep(2, 4, prompt, torch.CPU);
        Assert.Equal(0f, MaxAbsDiff(p0, AttentionMask.PositionIds(2, 4, prompt, torch.CPU)));
        Assert.True(a0.eq(AttentionMask.CausalWithPadding(2, 4, prompt, torch.CPU)).all().item<bool>());
        cache.Append(0, torch.zeros(2, 1, 4, 2), torch.zeros(2, 1, 4, 2));
        var (p1, a1) = cache.BeginStep(2, 1, null, torch.CPU);                                // one token per row
        Assert.Equal(new long[] { 2, 4 }, p1.data<long>().ToArray());
        var full = torch.cat([prompt, torch.ones(2, 1, dtype: ScalarType.Int64)], 1);          // [2,5]
        Assert.Equal(0f, MaxAbsDiff(p1, AttentionMask.PositionIds(2, 5, full, torch.CPU).narrow(1, 4, 1)));
        Assert.True(a1.eq(AttentionMask.CausalWithPadding(2, 5, full, torch.CPU).narrow(2, 4, 1)).all().item<bool>());
        var (keys, _) = cache.Append(0, torch.ones(2, 1, 1, 2), torch.ones(2, 1, 1, 2));
        Assert.Equal(new long[] { 2, 1, 5, 2 }, keys.shape);
        Assert.Equal(5, cache.Length);
        Assert.Equal(new long[] { 3, 5 }, cache.Lengths!.data<long>().ToArray());
    }

    [Fact]
    public void KeepRowsSelectsRowsOfEveryBuffer()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var cache = new KvCache(layers: 2, capacity: 8);
        cache.BeginStep(3, 2, torch.tensor(new long[] { 1, 1, 0, 1, 1, 1 }, [3, 2]), torch.CPU);
        for (var layer = 0; layer < 2; layer++)
        {
            var kv = Scalars.Arange(3).to_type(ScalarType.Float32).view(3, 1, 1, 1).expand(3, 1, 2, 2).add(Scalars.Of(layer * 10L), Scalars.One);
            cache.Append(layer, kv, kv);
        }
        cache.KeepRows(torch.tensor(new long[] { 2, 1 }));
        Assert.Equal(2, cache.Batch);
        Assert.Equal(new long[] { 2, 1 }, cache.Lengths!.data<long>().ToArray());
        Assert.Equal(new long[] { 1, 1, 0, 1 }, cache.KeyMask!.data<long>().ToArray());
        cache.BeginStep(2, 1, null, torch.CPU);
        var (keys, _) = cache.Append(1, torch.zeros(2, 1, 1, 2), torch.zeros(2, 1, 1, 2));
        Assert.Equal(new float[] { 12, 11 }, keys.select(2, 0).select(2, 0).select(1, 0).data<float>().ToArray());
    }

    [Fact]
    public void MisuseIsRefusedAndDisposeFreesEverything()
    {
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var scope = torch.NewDisposeScope())
        {
            var cache = new KvCache(layers: 2);
            cache.BeginStep(1, 3, null, torch.CPU);
            using (torch.no_grad()) cache.Append(0, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2));
            Assert.Throws<InvalidOperationException>(() => cache.BeginStep(1, 1, null, torch.CPU));  // layer 1 missing
            var needsGrad = torch.zeros(1, 1, 3, 2, requires_grad: true);
            Assert.Throws<InvalidOperationException>(() => cache.Append(1, needsGrad, needsGrad));
            scope.DisposeEverything();
            cache.Dispose();
            Assert.Throws<ObjectDisposedException>(() => cache.BeginStep(1, 1, null, torch.CPU));
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    private static float MaxAbsDiff(Tensor a, Tensor b) => (a.to_type(ScalarType.Float32) - b.to_type(ScalarType.Float32)).abs().max().item<float>();
}
