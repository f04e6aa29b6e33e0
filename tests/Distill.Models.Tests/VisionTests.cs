using Distill.Models.Torch;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

public class VisionTests
{
    [Fact]
    public void DifferentImagesGiveDifferentTextLogits()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var ids = Ids(Prompt(5, 6, 7));
        var a = model.Forward(Pixels(1, 1), ids);
        var b = model.Forward(Pixels(1, 2), ids);
        Assert.Equal(0f, MaxAbsDiff(a.narrow(1, 0, 1), b.narrow(1, 0, 1)));   // BOS precedes the image
        for (var t = 5; t < 8; t++)
            Assert.True(MaxAbsDiff(a.narrow(1, t, 1), b.narrow(1, t, 1)) > 1e-5f, $"text position {t} ignores the image");
    }

    [Fact]
    public void ImageFeaturesFillTheImagePositionsInOrder()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var features = torch.randn(2, 4, 24);
        var ids = Ids(Prompt(5), new[] { 1, 6, ImageToken, ImageToken, ImageToken, ImageToken });
        var embeds = model.EmbedInputs(features, ids);                                   // [2,6,24]
        Assert.Equal(0f, MaxAbsDiff(embeds[0].narrow(0, 1, 4), features[0]));
        Assert.Equal(0f, MaxAbsDiff(embeds[1].narrow(0, 2, 4), features[1]));
        var table = model.LanguageModel.Model.EmbedTokens.weight!;
        Assert.Equal(0f, MaxAbsDiff(embeds[1][1], table[6]));
        Assert.Equal(0f, MaxAbsDiff(embeds[0][5], table[5]));
    }

    [Fact]
    public void EncodeImagesShapeAndForwardWithFeaturesAgree()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var pixels = Pixels(2, 5);
        var features = model.EncodeImages(pixels);
        Assert.Equal(new long[] { 2, 4, 24 }, features.shape);
        var ids = Ids(Prompt(5, 6), Prompt(7, 8));
        Assert.Equal(0f, MaxAbsDiff(model.Forward(pixels, ids), model.ForwardWithImageFeatures(features, ids)));
    }

    [Fact]
    public void SelectLayerSkipsTheLayersAfterIt()
    {
        using var model = Tiny(featureLayer: -2);                                          // penultimate of 2 layers
        using var scope = torch.NewDisposeScope();
        Assert.Equal(1, model.Config.VisionLayersUsed);
        using var noGrad = torch.no_grad();
        var pixels = Pixels(1, 5);
        var before = model.SelectImageFeatures(pixels);                                   // [1,4,16]
        Assert.Equal(new long[] { 1, 4, 16 }, before.shape);                               // the class token's row dropped
        Assert.Equal(new long[] { 1, 5, 16 }, model.VisionTower.forward(pixels).shape);   // the tower: all rows, all layers
        model.state_dict()["vision_tower.vision_model.encoder.layers.1.mlp.fc1.weight"].normal_(0, 1);
        Assert.Equal(0f, MaxAbsDiff(before, model.SelectImageFeatures(pixels)));
        model.state_dict()["vision_tower.vision_model.encoder.layers.0.mlp.fc1.weight"].normal_(0, 1);
        Assert.True(MaxAbsDiff(before, model.SelectImageFeatures(pixels)) > 1e-3f);
    }

    [Fact]
    public void FreezeVisionTowerStopsItsGradients()
    {
        using var model = Tiny();
        using var scope = torch.NewDisposeScope();
        var all = model.parameters().Count();
        var visionCount = model.VisionTower.parameters().Count();
        model.FreezeVisionTower();
        Assert.All(model.VisionTower.parameters(), p => Assert.False(p.requires_grad));
        Assert.Equal(all - visionCount, model.TrainableParameters().Count);
        Assert.True(model.Projector.parameters().All(p => p.requires_grad));

        var logits = model.Forward(Pixels(1, 3), Ids(Prompt(5, 6)));
        logits.sum().backward();
        Assert.All(model.VisionTower.parameters(), p => Assert.True(p.grad is null));
        Assert.True(model.Projector.parameters().First().grad!.abs().sum().item<float>() > 0);
    }

    [Fact]
    public void LoadVisionTowerFromCopiesValues()
    {
        using var source = Tiny(seed: 1);
        using var target = Tiny(seed: 2);
        using var scope = torch.NewDisposeScope();
        const string key = "vision_tower.vision_model.encoder.layers.0.self_attn.q_proj.weight";
        Assert.True(MaxAbsDiff(source.state_dict()[key], target.state_dict()[key]) > 1e-3f);
        var projectorBefore = target.state_dict()["multi_modal_projector.linear_1.weight"].clone();
        target.LoadVisionTowerFrom(source);
        foreach (var (name, value) in source.VisionTower.state_dict())
            Assert.Equal(0f, MaxAbsDiff(value, target.VisionTower.state_dict()[name]));
        Assert.Equal(0f, MaxAbsDiff(projectorBefore, target.state_dict()["multi_modal_projector.linear_1.weight"]));
        // Copies, not shared storage.
        using (torch.no_grad()) source.state_dict()[key].add_(Scalars.Of(1.0), Scalars.One);
        Assert.True(MaxAbsDiff(source.state_dict()[key], target.state_dict()[key]) > 0.5f);
    }
}
