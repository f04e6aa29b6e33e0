using System.Text.Json.Nodes;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Moe;
using Distill.Models.Torch;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Models.Tests;

/// <summary>Hugging Face directories Distill writes and reads: MoE (as Mixtral) and MoD students reload exactly, both
/// weight layouts of LLaVA load, other dtypes convert, and whatever does not fit is refused before any tensor is
/// read, naming the file, the key or tensor and what is expected.</summary>
public sealed class HfCheckpointTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "distill-hf-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static readonly VisionConfig Vision = new(ImageSize: 16, PatchSize: 8, HiddenSize: 16, IntermediateSize: 32, Layers: 2, Heads: 2) { HiddenAct = "gelu" };
    private static readonly DecoderConfig Text = new(VocabSize: 64, HiddenSize: 32, IntermediateSize: 48, Layers: 4, Heads: 4, KvHeads: 2);

    private static VisionLanguageModel Student(long seed)
    {
        torch.manual_seed(seed);
        return new VisionLanguageModel(new VlmConfig(Vision, Text, 63));
    }

    private static long[] Prompt => [1, 5, 63, 9, 12, 7];

    private static Tensor Logits(VisionLanguageModel model)
    {
        model.eval();
        using var noGrad = torch.no_grad();
        torch.manual_seed(99);
        using var pixels = torch.rand(1, 3, 16, 16);
        using var ids = torch.tensor(Prompt, [1, Prompt.Length]);
        return model.Forward(pixels, ids);
    }

    private static void Perturb(nn.Module model, long seed)
    {
        torch.manual_seed(seed);
        using var noGrad = torch.no_grad();
        foreach (var p in model.parameters()) p.add_(torch.randn_like(p) * Scalars.Of(0.05), Scalars.One);
    }

    [Fact]
    public void An_moe_student_saves_as_mixtral_and_reloads_exactly_with_its_dense_layers_dense()
    {
        using var model = Student(1).UpcycleToMoe(new MoeConfig(Experts: 4, TopK: 2));
        Perturb(model, 2); // experts differ from one another
        using var before = Logits(model);
        Checkpoint.Save(model, _dir);

        var json = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!;
        Assert.Equal("mixtral", json["text_config"]!["model_type"]!.GetValue<string>());
        Assert.Equal(4, json["text_config"]!["num_local_experts"]!.GetValue<int>());
        Assert.Equal([0, 2], json["text_config"]!["distill_moe"]!["layers"]!.AsArray().Select(n => n!.GetValue<int>()));
        using (var files = CheckpointFiles.Open(_dir))
        {
            Assert.Contains("language_model.model.layers.1.block_sparse_moe.experts.3.w2.weight", files.Tensors.Keys); // dense, as experts
            Assert.DoesNotContain("language_model.model.layers.1.mlp.gate_proj.weight", files.Tensors.Keys);
        }

        using var loaded = Checkpoint.Load(_dir);
        Assert.Equal(model.Config, loaded.Config);
        Assert.IsType<MoeMlp>(loaded.LanguageModel.Model.Layers[0].Mlp);
        Assert.IsType<LlamaMlp>(loaded.LanguageModel.Model.Layers[1].Mlp);
        Assert.Equal(model.ParameterCount(), loaded.ParameterCount());
        using var after = Logits(loaded);
        Assert.True(torch.equal(before, after).all().item<bool>(), "logits after the round trip differ");
    }

    [Fact]
    public void A_qwen2_moe_student_saves_as_qwen2_moe_with_zero_width_shared_experts_and_reloads_exactly()
    {
        // Mixtral has no q/k/v biases, so an MoE student upcycled from Qwen2 is written as Qwen2-MoE: every layer an
        // MoE block (dense ones as identical experts behind a zero router), experts as wide as the FFN, renormalised
        // top-k, and a shared expert of width 0 with a zero gate, which adds nothing.
        torch.manual_seed(1);
        var qwen = Text with { ModelType = "qwen2", QkvBias = true, TieWordEmbeddings = true };
        using var model = new VisionLanguageModel(new VlmConfig(Vision, qwen, 63)).UpcycleToMoe(new MoeConfig(Experts: 4, TopK: 2));
        Perturb(model, 2);
        using var before = Logits(model);
        Checkpoint.Save(model, _dir);

        var text = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!["text_config"]!;
        Assert.Equal("qwen2_moe", text["model_type"]!.GetValue<string>());
        Assert.Equal((4, 2, 48, 0, 1, true), (text["num_experts"]!.GetValue<int>(), text["num_experts_per_tok"]!.GetValue<int>(),
            text["moe_intermediate_size"]!.GetValue<int>(), text["shared_expert_intermediate_size"]!.GetValue<int>(),
            text["decoder_sparse_step"]!.GetValue<int>(), text["norm_topk_prob"]!.GetValue<bool>()));
        using (var files = CheckpointFiles.Open(_dir))
        {
            var names = files.Tensors.Keys.ToHashSet();
            Assert.Contains("language_model.model.layers.0.mlp.experts.3.down_proj.weight", names);   // MoE layer
            Assert.Contains("language_model.model.layers.1.mlp.experts.3.up_proj.weight", names);     // dense, as experts
            Assert.Contains("language_model.model.layers.1.mlp.gate.weight", names);
            Assert.Contains("language_model.model.layers.2.self_attn.q_proj.bias", names);
            Assert.DoesNotContain(names, n => n.Contains("block_sparse_moe"));
            Assert.Equal([0, 32], files.Tensors["language_model.model.layers.3.mlp.shared_expert.up_proj.weight"].Shape);
            Assert.Equal([32, 0], files.Tensors["language_model.model.layers.3.mlp.shared_expert.down_proj.weight"].Shape);
            Assert.Equal([1, 32], files.Tensors["language_model.model.layers.3.mlp.shared_expert_gate.weight"].Shape);
        }

        using var loaded = Checkpoint.Load(_dir);
        Assert.Equal(model.Config, loaded.Config);
        Assert.IsType<MoeMlp>(loaded.LanguageModel.Model.Layers[0].Mlp);
        Assert.IsType<LlamaMlp>(loaded.LanguageModel.Model.Layers[1].Mlp);
        using var after = Logits(loaded);
        Assert.True(torch.equal(before, after).all().item<bool>(), "logits after the round trip differ");
    }

    [Theory]
    [InlineData("\"shared_expert_intermediate_size\": 0", "\"shared_expert_intermediate_size\": 8", "shared_expert_intermediate_size")]
    [InlineData("\"norm_topk_prob\": true", "\"norm_topk_prob\": false", "norm_topk_prob")]
    [InlineData("\"moe_intermediate_size\": 48", "\"moe_intermediate_size\": 16", "moe_intermediate_size")]
    public void A_qwen2_moe_config_distill_does_not_compute_is_refused_naming_the_key(string from, string to, string key)
    {
        torch.manual_seed(1);
        using (var model = new VisionLanguageModel(new VlmConfig(Vision, Text with { ModelType = "qwen2", QkvBias = true }, 63)).UpcycleToMoe(new MoeConfig(Experts: 4, TopK: 2)))
            Checkpoint.Save(model, _dir);
        var path = Path.Combine(_dir, "config.json");
        var json = File.ReadAllText(path);
        Assert.Contains(from, json);
        File.WriteAllText(path, json.Replace(from, to));
        var error = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(_dir));
        Assert.Contains(path, error.Message);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void A_dense_layer_whose_experts_differ_is_refused_naming_the_tensor()
    {
        using (var model = Student(3).UpcycleToMoe(new MoeConfig(Experts: 2, TopK: 1))) Checkpoint.Save(model, _dir);
        var path = Path.Combine(_dir, "model.safetensors");
        var tensors = SafeTensors.Read(path);
        const string changed = "language_model.model.layers.3.block_sparse_moe.experts.1.w3.weight";
        tensors[changed].add_(Scalars.Of(0.5), Scalars.One);
        SafeTensors.Write(path, tensors.Select(kv => (kv.Key, kv.Value)));
        foreach (var t in tensors.Values) t.Dispose();

        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(_dir));
        Assert.Contains(changed, e.Message);
        Assert.Contains("distill_moe.layers lists its layer as dense", e.Message);
    }

    [Fact]
    public void A_mod_student_reloads_exactly_with_its_router()
    {
        using var model = Student(4).ConvertToMod(new ModConfig([1, 2], SkipRatio: 0.5, PrefillThreshold: 0.4));
        Perturb(model, 5);
        using var before = Logits(model);
        Checkpoint.Save(model, _dir);
        var text = JsonNode.Parse(File.ReadAllText(Path.Combine(_dir, "config.json")))!["text_config"]!;
        Assert.Equal("llama", text["model_type"]!.GetValue<string>());
        Assert.Equal(0.4, text["distill_mod"]!["prefill_threshold"]!.GetValue<double>());
        using (var files = CheckpointFiles.Open(_dir))
            Assert.Contains("language_model.model.mod_router.weight", files.Tensors.Keys);

        using var loaded = Checkpoint.Load(_dir);
        Assert.Equal(model.Config, loaded.Config);
        Assert.Equal([1, 2], loaded.ModLayers.Select(l => loaded.LanguageModel.Model.Layers.ToList().IndexOf(l.Layer)));
        using var after = Logits(loaded);
        Assert.True(torch.equal(before, after).all().item<bool>(), "logits after the round trip differ");
    }

    [Theory]
    [InlineData("llama")]
    [InlineData("qwen2")]
    public void A_causal_lm_round_trips(string modelType)
    {
        torch.manual_seed(6);
        var config = Text with { ModelType = modelType, QkvBias = modelType == "qwen2", TieWordEmbeddings = modelType == "qwen2" };
        using var model = new LlamaForCausalLM(config);
        Perturb(model, 7);
        Checkpoint.Save(model, _dir, new GenerationConfig(1, [2, 3], 0));
        var read = Checkpoint.ReadConfig(_dir);
        Assert.Equal(config, read.Text);
        Assert.Equal([2, 3], read.Generation.EosTokenIds);
        using var loaded = Checkpoint.LoadCausalLm(_dir);
        using var ids = torch.tensor(Prompt.Select(x => x % 60).ToArray(), [1, Prompt.Length]);
        using var noGrad = torch.no_grad();
        Assert.True(torch.equal(model.ForwardIds(ids), loaded.ForwardIds(ids)).all().item<bool>());
    }

    [Fact]
    public void The_newer_transformers_layout_of_llava_loads_as_the_legacy_one()
    {
        const string fixture = "llava-clip-llama";
        foreach (var file in new[] { "config.json", "generation_config.json" })
            File.Copy(Path.Combine(HfFixtures.Directory(fixture), file), Path.Combine(Directory.CreateDirectory(_dir).FullName, file));
        var tensors = SafeTensors.Read(Path.Combine(HfFixtures.Directory(fixture), "model.safetensors"));
        string Newer(string name) => name.StartsWith("language_model.model.") ? "model.language_model." + name["language_model.model.".Length..]
            : name == "language_model.lm_head.weight" ? "lm_head.weight" : "model." + name;
        SafeTensors.Write(Path.Combine(_dir, "model.safetensors"), tensors.Select(kv => (Newer(kv.Key), kv.Value)));
        foreach (var t in tensors.Values) t.Dispose();

        using var legacy = Checkpoint.Load(HfFixtures.Directory(fixture));
        using var newer = Checkpoint.Load(_dir);
        Assert.Equal(legacy.state_dict().Keys, newer.state_dict().Keys);
        Assert.All(legacy.state_dict(), kv => Assert.True(torch.equal(kv.Value, newer.state_dict()[kv.Key]).all().item<bool>(), kv.Key));
    }

    [Fact]
    public void Tensors_llava_never_runs_may_be_absent_and_get_hf_initial_values_not_uninitialised_memory()
    {
        // A loaded model is built without random initialisation (the file overwrites every weight), so what a file may
        // lack is initialised on purpose: CLIP's post_layernorm here (LLaVA reads a layer's features before it).
        const string fixture = "llava-clip-llama";
        foreach (var file in new[] { "config.json", "generation_config.json" })
            File.Copy(Path.Combine(HfFixtures.Directory(fixture), file), Path.Combine(Directory.CreateDirectory(_dir).FullName, file));
        var tensors = SafeTensors.Read(Path.Combine(HfFixtures.Directory(fixture), "model.safetensors"));
        var kept = tensors.Where(kv => !kv.Key.Contains(".post_layernorm.")).ToList();
        Assert.Equal(2, tensors.Count - kept.Count);
        SafeTensors.Write(Path.Combine(_dir, "model.safetensors"), kept.Select(kv => (kv.Key, kv.Value)));
        foreach (var t in tensors.Values) t.Dispose();

        using var model = Checkpoint.Load(_dir);
        var state = model.state_dict();
        var weight = state.Single(kv => kv.Key.EndsWith("post_layernorm.weight")).Value;
        var bias = state.Single(kv => kv.Key.EndsWith("post_layernorm.bias")).Value;
        Assert.True(torch.equal(weight, torch.ones_like(weight)).all().item<bool>());
        Assert.True(torch.equal(bias, torch.zeros_like(bias)).all().item<bool>());
        using var full = Checkpoint.Load(HfFixtures.Directory(fixture));
        Assert.True(torch.equal(full.Forward(torch.zeros(1, 3, 32, 32), torch.tensor(new long[] { 1, 255, 5 }, [1, 3])),
            model.Forward(torch.zeros(1, 3, 32, 32), torch.tensor(new long[] { 1, 255, 5 }, [1, 3]))).all().item<bool>());
    }

    [Theory]
    [InlineData(ScalarType.BFloat16)]
    [InlineData(ScalarType.Float16)]
    public void Half_precision_weights_load_into_float32_as_torch_converts_them(ScalarType fileType)
    {
        const string fixture = "llama";
        foreach (var file in new[] { "config.json", "generation_config.json" })
            File.Copy(Path.Combine(HfFixtures.Directory(fixture), file), Path.Combine(Directory.CreateDirectory(_dir).FullName, file));
        var tensors = SafeTensors.Read(Path.Combine(HfFixtures.Directory(fixture), "model.safetensors"));
        using var scope = torch.NewDisposeScope();
        var half = tensors.ToDictionary(kv => kv.Key, kv => kv.Value.to_type(fileType));
        SafeTensors.Write(Path.Combine(_dir, "model.safetensors"), half.Select(kv => (kv.Key, kv.Value)));

        using var model = Checkpoint.LoadCausalLm(_dir);
        foreach (var (name, tensor) in model.state_dict())
            Assert.True(torch.equal(tensor, half[name].to_type(ScalarType.Float32)).all().item<bool>(), name);
        foreach (var t in tensors.Values) t.Dispose();
    }

    [Fact]
    public void A_bfloat16_placement_holds_the_model_in_bfloat16()
    {
        using var model = Checkpoint.Load(HfFixtures.Directory("llava-clip-llama"), new Placement(DType: ScalarType.BFloat16));
        Assert.All(model.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        using var f32 = Checkpoint.Load(HfFixtures.Directory("llava-clip-llama"));
        Assert.Equal(f32.ParameterCount(), model.ParameterCount());
        var expected = HfFixtures.Expected("llava-clip-llama");
        model.eval();
        using var noGrad = torch.no_grad();
        using var logits = model.Forward(expected["pixel_values"], expected["input_ids"]);
        var diff = Scalars.ToDouble((logits.to_type(ScalarType.Float32) - expected["logits"]).abs().max());
        Assert.InRange(diff, 1e-6, 0.5); // bfloat16 rounding, not float32 exactness, and not garbage
        foreach (var t in expected.Values) t.Dispose();
    }

    [Theory]
    [InlineData("\"model_type\": \"gpt2\"", "key 'model_type' is 'gpt2', which is not supported; supported: llava, llama, qwen2, mistral, mixtral")]
    [InlineData("\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 4.0}", "key 'rope_scaling.type' is 'yarn', which is not supported; supported: linear, dynamic, llama3")]
    [InlineData("\"model_type\": \"llama\", \"quantization_config\": {\"quant_method\": \"gptq\"}", "key 'quantization_config': quantised checkpoints are not supported")]
    [InlineData("\"model_type\": \"qwen2\", \"use_sliding_window\": true", "key 'use_sliding_window': Qwen2's sliding window")]
    [InlineData("\"model_type\": \"llama\", \"hidden_act\": \"swiglu_x\"", "key 'hidden_act': activation 'swiglu_x' is not supported")]
    [InlineData("\"model_type\": \"llama\", \"architectures\": [\"GPT2LMHeadModel\"]", "key 'architectures': 'GPT2LMHeadModel' is not LlamaForCausalLM")]
    [InlineData("\"model_type\": \"llava\", \"vision_config\": {\"model_type\": \"dinov2\"}", "key 'vision_config.model_type' is 'dinov2', which is not supported; supported: clip_vision_model, siglip_vision_model")]
    [InlineData("\"model_type\": \"llava\", \"vision_feature_layer\": [-2, -5]", "key 'vision_feature_layer': a list of layers is not supported")]
    [InlineData("\"model_type\": \"llama\", \"num_hidden_layers\": \"two\"", "key 'num_hidden_layers' has value \"two\", expected an integer")]
    public void An_unsupported_config_is_refused_naming_the_file_and_the_key(string keys, string message)
    {
        var file = Path.Combine(Directory.CreateDirectory(_dir).FullName, "config.json");
        File.WriteAllText(file, "{" + keys + "}");
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.ReadConfig(_dir));
        Assert.StartsWith(file + ":", e.Message);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Missing_unexpected_and_misshapen_tensors_are_listed_before_anything_is_read()
    {
        const string fixture = "llama";
        foreach (var file in new[] { "config.json", "generation_config.json" })
            File.Copy(Path.Combine(HfFixtures.Directory(fixture), file), Path.Combine(Directory.CreateDirectory(_dir).FullName, file));
        var tensors = SafeTensors.Read(Path.Combine(HfFixtures.Directory(fixture), "model.safetensors"));
        tensors.Remove("model.layers.1.mlp.up_proj.weight", out var removed);
        removed!.Dispose();
        tensors["model.layers.0.self_attn.q_proj.bias"] = torch.zeros(64);
        var norm = tensors["model.norm.weight"];
        tensors["model.norm.weight"] = torch.ones(63);
        norm.Dispose();
        SafeTensors.Write(Path.Combine(_dir, "model.safetensors"), tensors.Select(kv => (kv.Key, kv.Value)));
        foreach (var t in tensors.Values) t.Dispose();

        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadCausalLm(_dir));
        Assert.Contains("1 missing tensor(s): model.layers.1.mlp.up_proj.weight", e.Message);
        Assert.Contains("1 unexpected tensor(s): model.layers.0.self_attn.q_proj.bias", e.Message);
        Assert.Contains("tensor 'model.norm.weight' has shape [63] in the file, the model expects [64]", e.Message);
    }

    [Fact]
    public void A_text_checkpoint_is_not_taken_for_a_vision_language_model()
    {
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.Load(HfFixtures.Directory("qwen2")));
        Assert.Contains("model_type 'qwen2' is a text model, not llava", e.Message);
    }

    [Fact]
    public void The_llava_defaults_fill_a_config_that_leaves_keys_out()
    {
        // transformers' fixture leaves out every key equal to the class default (CLIP's quick_gelu and 1e-5, Llama's
        // 1e-6, rope_theta 1e4, ...): they come back here as transformers' defaults.
        var config = Checkpoint.ReadConfig(HfFixtures.Directory("llava-clip-llama")).Vlm!;
        Assert.Equal("quick_gelu", config.Vision.HiddenAct);
        Assert.Equal(1e-5, config.Vision.LayerNormEps);
        Assert.Equal(1e-6, config.Text.RmsNormEps);
        Assert.Equal(10000.0, config.Text.RopeTheta);
        Assert.False(config.Text.TieWordEmbeddings);
        Assert.Equal("default", config.VisionFeatureSelectStrategy);
        Assert.Equal(16, config.ImageFeatures);
    }
}
