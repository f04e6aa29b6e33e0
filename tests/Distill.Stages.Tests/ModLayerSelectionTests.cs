using Distill.Stages.Mod;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>gamma-MoD layer selection: low ARank first, keep-first / keep-last never, floor(fraction * layers) at most.</summary>
public sealed class ModLayerSelectionTests
{
    [Fact]
    public void LowestARankAmongTheEligibleLayersUpToTheTargetFraction()
    {
        // Layer 5 has the lowest ARank but is the last layer (keep-last 1); layer 0 is kept by keep-first 1.
        double[] aRank = [5, 1, 3, 2, 4, 0.5];
        var plan = ModLayerSelection.Select(aRank, keepFirst: 1, keepLast: 1, targetFraction: 0.5);   // 3 of 6
        Assert.Equal(3, plan.Wanted);
        Assert.Equal(new[] { 1, 2, 3 }, plan.Converted);
        Assert.Equal(new[] { false, true, true, true, true, false }, plan.Layers.Select(l => l.Eligible));
        Assert.Equal(new[] { false, true, true, true, false, false }, plan.Layers.Select(l => l.Converted));
        Assert.Equal(aRank, plan.Layers.Select(l => l.ARank));

        var two = ModLayerSelection.Select(aRank, 1, 1, 0.34);                                        // floor(2.04) = 2
        Assert.Equal(new[] { 1, 3 }, two.Converted);
        var three = ModLayerSelection.Select([1, 1, 1, 1, 1, 1, 1, 1, 1, 1], 0, 0, 0.3);               // 0.3 * 10 = 3, not 2
        Assert.Equal(new[] { 0, 1, 2 }, three.Converted);                                              // ties: lower index
    }

    [Fact]
    public void FewerEligibleLayersThanWantedConvertsEveryEligibleLayer()
    {
        var plan = ModLayerSelection.Select([9, 8, 7, 6], keepFirst: 1, keepLast: 1, targetFraction: 1.0);
        Assert.Equal(4, plan.Wanted);
        Assert.Equal(new[] { 1, 2 }, plan.Converted);
    }

    [Fact]
    public void ImpossiblePlansNameTheKeys()
    {
        var kept = Assert.Throws<ArgumentException>(() => ModLayerSelection.Select([1, 2, 3, 4], keepFirst: 3, keepLast: 1, targetFraction: 0.5));
        Assert.Contains("distill.mod.keep-first (3)", kept.Message);
        Assert.Contains("distill.mod.keep-last (1)", kept.Message);
        Assert.Contains("4 decoder layer(s)", kept.Message);

        var tooFew = Assert.Throws<ArgumentException>(() => ModLayerSelection.Select([1, 2, 3, 4], 1, 1, 0.2));
        Assert.Contains("distill.mod.target-fraction (0.2)", tooFew.Message);
        Assert.Contains("0.25", tooFew.Message);

        Assert.Contains("distill.mod.target-fraction", Assert.Throws<ArgumentException>(() => ModLayerSelection.Select([1, 2], 0, 0, 0)).Message);
        Assert.Contains("distill.mod.keep-first", Assert.Throws<ArgumentException>(() => ModLayerSelection.Select([1, 2], -1, 0, 1)).Message);
        Assert.Contains("ARank", Assert.Throws<ArgumentException>(() => ModLayerSelection.Select([1, double.NaN], 0, 0, 1)).Message);
    }

    [Fact]
    public void ThePlanRoundTripsThroughJson()
    {
        var plan = ModLayerSelection.Select([3.5, 1.25, 2], 1, 0, 0.67) with { CalibrationSamples = 12, InputCheckpoint = "/x/student" };
        var json = plan.ToJson();
        Assert.Contains("\"arank\": 1.25", json);
        Assert.Contains("\"keep_first\": 1", json);
        var back = ModPlan.FromJson(json, "plan.json");
        Assert.Equal(plan.Converted, back.Converted);
        Assert.Equal(plan.Layers, back.Layers);
        Assert.Equal((12, "/x/student", 2), (back.CalibrationSamples, back.InputCheckpoint, back.Wanted));
    }
}
