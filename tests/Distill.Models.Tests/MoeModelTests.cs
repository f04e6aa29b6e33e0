using System.Text.Json.Nodes;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Moe;
using TorchSharp;
using Xunit;
using static Distill.Models.Tests.TestModels;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>MoE in the whole model: sparse upcycling, layer placement, aux loss aggregation, checkpoints.</summary>
public sealed class MoeModelTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "distill-moe-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static VlmConfig FourLayers(MoeConfig? moe = null)
    {
        var c = TinyConfig();
        return c with { Text = c.Text with { Layers = 4, Moe = moe } };
    }

    private static Tensor Logits(VisionLanguageModel model)
    {
        using var noGrad = torch.no_grad();
        return model.Forward(Pixels(2, 8), Ids(Prompt(5, 6, 7), Prompt(8, 9, 10)));
    }

    [Fact]
    public void UpcyclingKeepsTheLogits()
    {
        using var model = Tiny(seed: 2);
        model.eval();
        using var scope = torch.NewDisposeScope();
        var before = Logits(model);
        var dense = model.ParameterCount();
        var config = new MoeConfig(Layers: [0, 1]);                   // E = 4, k = 2, eval cf 2: C = N, nothing dropped
        torch.manual_seed(9);
        Assert.Same(model, MoeUpcycling.Upcycle(model, config));
        Assert.Same(config, model.Config.Text.Moe);

        var after = Logits(model);
        Assert.True(MaxAbsDiff(before, after) < 1e-5f, $"max diff {MaxAbsDiff(before, after)}");
        var moes = MoeLoss.Layers(model);
        Assert.Equal(2, moes.Count);
        Assert.All(moes, m => Assert.False(m.training));                                  // follows the model's mode
        Assert.All(moes, m => Assert.Equal(0, m.LastRouting!.Dropped));
        Assert.All(moes, m => Assert.Equal(2 * 8 * 2, m.LastRouting!.Kept.Sum()));       // B*T = 2*8 tokens, k = 2
        // Per layer: 3 more copies of the 3 * 24 * 48 FFN weights, plus the 4 x 24 router.
        Assert.Equal(dense + 2 * (3 * 3 * 24 * 48 + 4 * 24), model.ParameterCount());

        var aux = model.MoeAuxLoss();
        var sum = moes[0].LastAuxLoss!.item<float>() + moes[1].LastAuxLoss!.item<float>();
        Assert.Equal(sum, aux.item<float>(), 6);
        Assert.InRange(aux.item<float>(), 1.98f, 2.02f);                                  // fresh N(0,0.02) router: ~uniform, ~1 per layer
    }

    [Fact]
    public void UpcycledRouterIsSeededByTheCaller()
    {
        using var a = Tiny(seed: 2);
        using var b = Tiny(seed: 2);
        torch.manual_seed(5);
        MoeUpcycling.Upcycle(a, new MoeConfig());
        torch.manual_seed(5);
        MoeUpcycling.Upcycle(b, new MoeConfig());
        Assert.Equal(0f, MaxAbsDiff(MoeLoss.Layers(a)[0].Gate.weight!, MoeLoss.Layers(b)[0].Gate.weight!));
    }

    [Fact]
    public void DenseModelHasZeroAuxLoss()
    {
        using var model = Tiny();
        using var logits = Logits(model);
        using var aux = model.MoeAuxLoss();
        Assert.Equal(0f, aux.item<float>());
        Assert.Empty(MoeLoss.Layers(model));
    }

    [Fact]
    public void EveryOtherUpcyclesLayersZeroAndTwo()
    {
        torch.manual_seed(1);
        using var model = new VisionLanguageModel(FourLayers());
        var layers = model.LanguageModel.Model.Layers;
        using var layer2Down = ((LlamaMlp)layers[2].Mlp).DownProj.weight!.detach().clone();
        MoeUpcycling.Upcycle(model, new MoeConfig());
        Assert.Equal(new[] { true, false, true, false }, layers.Select(l => l.Mlp is MoeMlp).ToArray());
        Assert.Equal(new[] { 0, 2 }, MoeUpcycling.MoeLayerIndices(model.Config.Text.Moe!, 4));
        var moe2 = (MoeMlp)layers[2].Mlp;
        for (var e = 0; e < 4; e++)
            Assert.Equal(0f, MaxAbsDiff(layer2Down, moe2.Experts[e].DownProj.weight!));   // layer 2's own FFN
        var names = model.state_dict().Keys.ToHashSet();
        Assert.Contains("language_model.model.layers.2.mlp.gate.weight", names);
        Assert.Contains("language_model.model.layers.2.mlp.experts.3.up_proj.weight", names);
        Assert.Contains("language_model.model.layers.1.mlp.gate_proj.weight", names);
        Assert.DoesNotContain("language_model.model.layers.2.mlp.gate_proj.weight", names);
        Assert.Throws<InvalidOperationException>(() => MoeUpcycling.Upcycle(model, new MoeConfig()));
    }

    [Fact]
    public void ExplicitListUpcyclesOnlyThoseLayers()
    {
        torch.manual_seed(1);
        using var model = new VisionLanguageModel(FourLayers());
        Assert.Throws<ArgumentException>(() => MoeUpcycling.Upcycle(model, new MoeConfig(Layers: [1, 4])));
        Assert.Null(model.Config.Text.Moe);
        Assert.All(model.LanguageModel.Model.Layers, l => Assert.IsType<LlamaMlp>(l.Mlp));

        MoeUpcycling.Upcycle(model, new MoeConfig(Experts: 2, TopK: 1, Layers: [1, 3]));
        Assert.Equal(new[] { false, true, false, true },
            model.LanguageModel.Model.Layers.Select(l => l.Mlp is MoeMlp).ToArray());
        Assert.Equal(2, ((MoeMlp)model.LanguageModel.Model.Layers[3].Mlp).Experts.Count);
    }

    [Fact]
    public void ModelBuiltFromAnMoeConfigHasMoeLayers()
    {
        torch.manual_seed(1);
        using var model = new VisionLanguageModel(FourLayers(new MoeConfig(Experts: 3, Layers: [2])));
        Assert.Equal(new[] { false, false, true, false },
            model.LanguageModel.Model.Layers.Select(l => l.Mlp is MoeMlp).ToArray());
        var router = MoeLoss.Layers(model)[0].Gate.weight!;
        Assert.Equal(new long[] { 3, 24 }, router.shape);
        Assert.InRange(router.std().item<float>(), 0.01f, 0.03f);                          // HF init N(0, 0.02)
    }

    [Fact]
    public void MoeCheckpointRoundTrips()
    {
        using var model = Tiny(seed: 4);
        var config = new MoeConfig(Experts: 3, TopK: 2, TrainCapacityFactor: 1.25, EvalCapacityFactor: 1.5,
            Layers: [1], AuxLossCoefficient: 0.02);
        torch.manual_seed(6);
        MoeUpcycling.Upcycle(model, config);
        using (torch.no_grad())
            foreach (var expert in MoeLoss.Layers(model)[0].Experts)                       // experts differ from here on
                expert.DownProj.weight!.add_(torch.randn_like(expert.DownProj.weight!) * Scalars.Of(0.05), Scalars.One);
        Checkpoint.Save(model, _dir);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!["text_config"]!;
        Assert.Equal(3, (int)json["num_local_experts"]!);
        Assert.Equal(2, (int)json["num_experts_per_tok"]!);
        Assert.Equal(new[] { 1 }, json["moe_layers"]!.AsArray().Select(n => (int)n!).ToArray());
        Assert.Equal(1.25, (double)json["moe_train_capacity_factor"]!);
        Assert.Equal(1.5, (double)json["moe_eval_capacity_factor"]!);
        Assert.Equal(0.02, (double)json["router_aux_loss_coef"]!);

        using var loaded = Checkpoint.Load(_dir);
        Assert.Equal(model.Config, loaded.Config);
        Assert.IsType<MoeMlp>(loaded.LanguageModel.Model.Layers[1].Mlp);
        Assert.IsType<LlamaMlp>(loaded.LanguageModel.Model.Layers[0].Mlp);
        using var scope = torch.NewDisposeScope();
        model.eval();
        loaded.eval();
        Assert.Equal(0f, MaxAbsDiff(Logits(model), Logits(loaded)));
        model.train();
        loaded.train();
        Assert.Equal(0f, MaxAbsDiff(Logits(model), Logits(loaded)));
    }

    [Fact]
    public void EveryOtherPlacementRoundTripsThroughConfigJson()
    {
        var config = FourLayers(new MoeConfig());
        var json = LlavaConfigJson.ToJson(config);
        Assert.Equal("every-other", (string)JsonNode.Parse(json)!["text_config"]!["moe_layers"]!);
        var parsed = LlavaConfigJson.Parse(json);
        Assert.Equal(config, parsed);
        Assert.Null(parsed.Text.Moe!.Layers);
        Assert.Null(LlavaConfigJson.Parse(LlavaConfigJson.ToJson(TinyConfig())).Text.Moe);   // dense stays dense
        var bad = json.Replace("\"every-other\"", "\"sometimes\"");
        Assert.Contains("moe_layers", Assert.Throws<InvalidDataException>(() => LlavaConfigJson.Parse(bad)).Message);
    }
}
