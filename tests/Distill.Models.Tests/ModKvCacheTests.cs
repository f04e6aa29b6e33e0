using Distill.Models.Config;
using Distill.Models.Generation;
using Distill.Models.Language;
using Distill.Models.Moe;
using Distill.Models.Accounting;
using Distill.Models.Mod;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>KV-cache layers with positions of their own (MoD layers), and MoD on top of MoE.</summary>
public class ModKvCacheTests
{
    [Fact]
    public void LayerStepsKeepTheirOwnLengthsPositionsAndMask()
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var cache = new KvCache(layers: 2);
        // Step 1: 4 positions, row 1 left-padded by 1. Layer 1 processes 3 of row 0's tokens and 2 of row 1's
        // (its compacted step: the pad as a placeholder, then the 2 tokens).
        cache.BeginStep(2, 4, torch.tensor(new long[] { 1, 1, 1, 1, 0, 1, 1, 1 }, [2, 4]), CPU);
        cache.Append(0, torch.zeros(2, 1, 4, 2), torch.zeros(2, 1, 4, 2));
        var (positions, allowed) = cache.BeginLayerStep(1, torch.tensor(new long[] { 1, 1, 1, 0, 1, 1 }, [2, 3]));
        Assert.Equal(new long[] { 0, 1, 2, 0, 0, 1 }, positions.data<long>().ToArray());     // the pad clamps at 0
        Assert.Equal(new long[] { 2, 1, 3, 3 }, allowed.shape);
        cache.Append(1, torch.zeros(2, 1, 3, 2), torch.zeros(2, 1, 3, 2));
        Assert.Equal(4, cache.Length);
        Assert.Equal(3, cache.LayerLength(1));
        Assert.Equal(new long[] { 3, 2 }, cache.LayerLengths(1)!.data<long>().ToArray());

        // Step 2: one token per row; layer 1 processes only row 1's (row 0 gets a placeholder).
        cache.BeginStep(2, 1, null, CPU);
        cache.Append(0, torch.zeros(2, 1, 1, 2), torch.zeros(2, 1, 1, 2));
        (positions, allowed) = cache.BeginLayerStep(1, torch.tensor(new long[] { 0, 1 }, [2, 1]));
        Assert.Equal(new long[] { 2, 2 }, positions.data<long>().ToArray());                // row 1's third processed token
        Assert.Equal(new[] { true, true, true, false, false, true, true, true }, allowed.reshape(-1).data<bool>().ToArray());
        cache.Append(1, torch.zeros(2, 1, 1, 2), torch.zeros(2, 1, 1, 2));
        Assert.Equal(new long[] { 3, 3 }, cache.LayerLengths(1)!.data<long>().ToArray());

        cache.KeepRows(torch.tensor(new long[] { 1 }));
        Assert.Equal(new long[] { 3 }, cache.LayerLengths(1)!.data<long>().ToArray());
        Assert.Equal(new long[] { 0, 1, 1, 1 }, cache.LayerKeyMask(1)!.reshape(-1).data<long>().ToArray());
        // Every step goes through every layer: a layer with own positions that skipped its step is caught.
        cache.BeginStep(1, 1, null, CPU);
        cache.Append(0, torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2));
        Assert.Throws<InvalidOperationException>(() => cache.BeginStep(1, 1, null, CPU));
        cache.BeginLayerStep(1, torch.zeros(1, 0, dtype: ScalarType.Int64));                 // processes nothing
        Assert.Throws<InvalidOperationException>(() => cache.BeginLayerStep(1, torch.zeros(1, 0, dtype: ScalarType.Int64)));
        cache.BeginStep(1, 1, null, CPU);
        Assert.Equal(4, cache.LayerLength(1));                                              // 3 + step 2's placeholder column
    }

    [Fact]
    public void ModConvertsAnMoeModel()
    {
        using var model = Tiny(seed: 71);
        torch.manual_seed(72);
        model.UpcycleToMoe(new MoeConfig(Experts: 2, TopK: 1, Layers: [1]));
        model.ConvertToMod(new ModConfig([1], SkipRatio: 0.5));
        Assert.IsType<MoeMlp>(model.ModLayers[0].Layer.Mlp);
        Assert.Equal(ParameterAccounting.Total(model.Config), model.ParameterCount());
        using var scope = torch.NewDisposeScope();
        var logits = model.Forward(Pixels(2, 73), Ids(Prompt(5, 6), Prompt(7, 8)));
        Assert.Equal(new long[] { 2, 7, 32 }, logits.shape);
        Assert.Equal(new long[] { 2, 2 }, model.ModLayers[0].LastRouting!.CompetingProcessed);
        // The MoE FFN sees only the processed tokens: per row 3 text + 2 of 4 images, of 7.
        Assert.Equal(2 * 5, MoeLoss.Layers(model)[0].LastRouting!.Tokens);
    }
}
