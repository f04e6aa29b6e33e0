using Distill.Models.Torch;
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
        var config = new MoeConfig(Layers: [0, 1]);                   // E = 4, k = 2, eval cf 0: no capacity, nothing dropped
        torch.manual_seed(9);
        Assert.Same(model, model.UpcycleToMoe(config));
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

        // Each layer's loss is E * sum_e f_e * P_e of its fresh router over the 16 tokens the layer saw: computed here
        // from the captured inputs of the block. (The router is near uniform, but not within 1%: its N(0, 0.02)
        // weights on RMS-normed inputs of width 24 give logits of std ~0.1, and f follows the largest P_e.)
        var inputs = MoeInputs(model, () => Logits(model));
        for (var i = 0; i < 2; i++)
        {
            var probs = inputs[i].reshape(-1, 24).matmul(moes[i].Gate.weight!.t()).softmax(-1); // [16,4]
            var top1 = nn.functional.one_hot(probs.argmax(-1), 4).to_type(ScalarType.Float32).mean([0L]); // f [4]
            var expected = (top1 * probs.mean([0L])).sum().item<float>() * 4;
            Assert.Equal(expected, moes[i].LastAuxLoss!.item<float>(), 5);
        }
        foreach (var input in inputs) input.Dispose();
    }

    /// <summary>The input of every MoE block during <paramref name="forward"/> (each block wrapped by a recorder
    /// for the call, then put back); the caller disposes them.</summary>
    private static List<Tensor> MoeInputs(VisionLanguageModel model, Action forward)
    {
        var layers = model.LanguageModel.Model.Layers.Where(l => l.Mlp is MoeMlp).ToList();
        var blocks = layers.Select(l => (MoeMlp)l.Mlp).ToList();
        var recorders = blocks.Select(b => new InputRecorder(b.forward)).ToList();
        for (var i = 0; i < layers.Count; i++) layers[i].ReplaceFeedForward(recorders[i], MoeMlp.ModuleName);
        try
        {
            forward();
        }
        finally
        {
            for (var i = 0; i < layers.Count; i++) layers[i].ReplaceFeedForward(blocks[i], MoeMlp.ModuleName).Dispose();
        }
        return recorders.Select(r => r.Input!).ToList();
    }

    /// <summary>Records its input and runs the block (held as a delegate: a module field would become its child and
    /// be disposed with it).</summary>
    private sealed class InputRecorder(Func<Tensor, Tensor> block) : nn.Module<Tensor, Tensor>(nameof(InputRecorder))
    {
        public Tensor? Input { get; private set; }

        public override Tensor forward(Tensor x)
        {
            Input = x.detach().clone().DetachFromDisposeScope();
            return block(x);
        }
    }

    [Fact]
    public void UpcycledRouterIsSeededByTheCaller()
    {
        using var a = Tiny(seed: 2);
        using var b = Tiny(seed: 2);
        torch.manual_seed(5);
        a.UpcycleToMoe(new MoeConfig());
        torch.manual_seed(5);
        b.UpcycleToMoe(new MoeConfig());
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
        model.UpcycleToMoe(new MoeConfig());
        Assert.Equal(new[] { true, false, true, false }, layers.Select(l => l.Mlp is MoeMlp).ToArray());
        Assert.Equal(new[] { 0, 2 }, model.Config.Text.Moe!.LayerIndices(4));
        var moe2 = (MoeMlp)layers[2].Mlp;
        for (var e = 0; e < 4; e++)
            Assert.Equal(0f, MaxAbsDiff(layer2Down, moe2.Experts[e].W2.weight!));   // layer 2's own FFN
        var names = model.state_dict().Keys.ToHashSet();
        // Mixtral's names: the block is block_sparse_moe, the router gate, an expert's up_proj w3.
        Assert.Contains("language_model.model.layers.2.block_sparse_moe.gate.weight", names);
        Assert.Contains("language_model.model.layers.2.block_sparse_moe.experts.3.w3.weight", names);
        Assert.Contains("language_model.model.layers.1.mlp.gate_proj.weight", names);
        Assert.DoesNotContain("language_model.model.layers.2.mlp.gate_proj.weight", names);
        Assert.DoesNotContain("language_model.model.layers.1.block_sparse_moe.gate.weight", names);
        Assert.Equal(MoeMlp.ModuleName, layers[2].FeedForwardName);
        Assert.Throws<InvalidOperationException>(() => model.UpcycleToMoe(new MoeConfig()));
    }

    [Fact]
    public void ExplicitListUpcyclesOnlyThoseLayers()
    {
        torch.manual_seed(1);
        using var model = new VisionLanguageModel(FourLayers());
        Assert.Throws<ArgumentException>(() => model.UpcycleToMoe(new MoeConfig(Layers: [1, 4])));
        Assert.Null(model.Config.Text.Moe);
        Assert.All(model.LanguageModel.Model.Layers, l => Assert.IsType<LlamaMlp>(l.Mlp));

        model.UpcycleToMoe(new MoeConfig(Experts: 2, TopK: 1, Layers: [1, 3]));
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
        model.UpcycleToMoe(config);
        using (torch.no_grad())
            foreach (var expert in MoeLoss.Layers(model)[0].Experts)                       // experts differ from here on
                expert.W2.weight!.add_(torch.randn_like(expert.W2.weight!) * Scalars.Of(0.05), Scalars.One);
        Checkpoint.Save(model, _dir);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!["text_config"]!;
        Assert.Equal("mixtral", (string)json["model_type"]!);
        Assert.Equal(3, (int)json["num_local_experts"]!);
        Assert.Equal(2, (int)json["num_experts_per_tok"]!);
        Assert.Equal(0.02, (double)json["router_aux_loss_coef"]!);
        var distill = json["distill_moe"]!;
        Assert.Equal(new[] { 1 }, distill["layers"]!.AsArray().Select(n => (int)n!).ToArray());
        Assert.Equal(1.25, (double)distill["train_capacity_factor"]!);
        Assert.Equal(1.5, (double)distill["eval_capacity_factor"]!);
        // Dense layer 0 is written as Mixtral expects every layer: 3 copies of its FFN behind a zero router.
        var (infos, _, _) = SafeTensors.ReadHeader(Path.Combine(_dir, "model.safetensors"));
        var stored = infos.Select(i => i.Name).ToHashSet();
        Assert.Contains("language_model.model.layers.0.block_sparse_moe.gate.weight", stored);
        Assert.Contains("language_model.model.layers.0.block_sparse_moe.experts.2.w1.weight", stored);
        Assert.DoesNotContain("language_model.model.layers.0.mlp.gate_proj.weight", stored);

        using var loaded = Checkpoint.Load(_dir);
        // The file is a Mixtral text model whose distill_moe.base_model_type names the upcycled decoder (llama): the
        // loaded config is exactly the saved one.
        Assert.Equal("llama", (string)distill["base_model_type"]!);
        Assert.Equal("llama", loaded.Config.Text.ModelType);
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
        var json = HfConfigJson.Write(config);
        // config.json lists the layers every-other placement gives (transformers' Mixtral has no such setting).
        Assert.Equal(new[] { 0, 2 }, JsonNode.Parse(json)!["text_config"]!["distill_moe"]!["layers"]!.AsArray().Select(n => (int)n!).ToArray());
        var parsed = HfConfigJson.Parse(json).Vlm!;
        var moe = parsed.Text.Moe!;
        Assert.Equal(new[] { 0, 2 }, moe.LayerIndices(4));
        Assert.Equal(config.Text.Moe!, moe);                     // every-other placement read back as such (Layers null)
        Assert.Equal(config, parsed);
        Assert.Null(HfConfigJson.Parse(HfConfigJson.Write(TinyConfig())).Vlm!.Text.Moe);   // dense stays dense

        // A Mixtral config of transformers' own (no distill_moe): experts on every layer, no capacity.
        var node = JsonNode.Parse(json)!;
        node["text_config"]!.AsObject().Remove("distill_moe");
        var mixtral = HfConfigJson.Parse(node.ToJsonString()).Vlm!.Text.Moe!;
        Assert.Equal(new[] { 0, 1, 2, 3 }, mixtral.LayerIndices(4));
        Assert.Equal(0, mixtral.TrainCapacityFactor);
        Assert.Equal(0, mixtral.EvalCapacityFactor);

        // A bad layer list names the file and the key.
        var bad = JsonNode.Parse(json)!;
        bad["text_config"]!["distill_moe"]!["layers"] = "sometimes";
        var e = Assert.Throws<InvalidDataException>(() => HfConfigJson.Parse(bad.ToJsonString(), "student/config.json"));
        Assert.Contains("student/config.json", e.Message);
        Assert.Contains("text_config.distill_moe.layers", e.Message);
        bad["text_config"]!["distill_moe"]!["layers"] = new JsonArray(0, 4);               // layer 4 of 4 layers
        e = Assert.Throws<InvalidDataException>(() => HfConfigJson.Parse(bad.ToJsonString(), "student/config.json"));
        Assert.Contains("text_config.distill_moe.layers", e.Message);
        Assert.Contains("below 4", e.Message);
    }
}
