using System.Text.Json;
using System.Text.Json.Nodes;
using Distill.Models.Config;

namespace Distill.Models.Checkpoints;

/// <summary>Hugging Face <c>config.json</c> (and <c>generation_config.json</c>) in and out, for the model types Distill
/// builds: <c>llava</c> (LlavaForConditionalGeneration, with a <c>clip_vision_model</c> or <c>siglip_vision_model</c>
/// tower and a <c>llama</c>, <c>qwen2</c>, <c>mistral</c> or <c>mixtral</c> text model) and those text models on their
/// own (<c>*ForCausalLM</c>).
/// <para>Reading applies transformers 4.40's class defaults to every key a file leaves out (as real hub checkpoints
/// do), and refuses before any work what Distill does not compute as transformers does, naming the file, the key and
/// what is supported: another <c>model_type</c> or architecture, a rope-scaling kind, Qwen2's per-layer sliding window,
/// a quantised checkpoint, an activation, a list of vision feature layers.</para>
/// <para>Writing gives every key explicitly. Distill's extensions are keys transformers ignores:
/// <c>distill_moe</c> in the text config of an MoE student (exported as Mixtral: <c>layers</c> lists the layers that
/// really are MoE, the others are written as experts that are all the same dense FFN behind a zero router, which
/// computes that FFN exactly; <c>placement</c> whether those are the every-other layers or a list; <c>base_model_type</c>
/// the dense model it was upcycled from; plus the capacity factors) and <c>distill_mod</c> (gamma-MoD layers and thresholds; the
/// router's tensor is <c>model.mod_router.weight</c> of the language model).</para></summary>
public static class HfConfigJson
{
    public const string ConfigFile = "config.json";
    public const string GenerationFile = "generation_config.json";

    public static readonly IReadOnlyList<string> TextModelTypes = ["llama", "qwen2", "mistral", "mixtral", Qwen2Moe];

    /// <summary>The model_type of a Qwen2 decoder with MoE layers (Qwen2MoeForCausalLM).</summary>
    public const string Qwen2Moe = "qwen2_moe";
    public static readonly IReadOnlyList<string> VisionModelTypes = [VisionConfig.Clip, VisionConfig.Siglip];
    public static readonly IReadOnlyList<string> ModelTypes = ["llava", .. TextModelTypes];

    private static readonly Dictionary<string, string> Architectures = new()
    {
        ["llava"] = "LlavaForConditionalGeneration", ["llama"] = "LlamaForCausalLM", ["qwen2"] = "Qwen2ForCausalLM",
        ["mistral"] = "MistralForCausalLM", ["mixtral"] = "MixtralForCausalLM", [Qwen2Moe] = "Qwen2MoeForCausalLM",
    };

    /// <summary>Reads <c>directory/config.json</c> and, when present, <c>generation_config.json</c>.</summary>
    public static CheckpointConfig Read(string directory)
    {
        var path = Path.Combine(directory, ConfigFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: the model directory has no config.json.", path);
        var config = Parse(File.ReadAllText(path), path);
        var generationPath = Path.Combine(directory, GenerationFile);
        return File.Exists(generationPath)
            ? config with { Generation = ParseGeneration(File.ReadAllText(generationPath), generationPath, config.Generation) }
            : config;
    }

    /// <summary>Parses a config.json; <paramref name="file"/> names it in errors.</summary>
    public static CheckpointConfig Parse(string json, string file = ConfigFile)
    {
        var root = new JsonSection(ParseObject(json, file), file, "");
        if (root.Has("quantization_config"))
            throw root.Unsupported("quantization_config", "quantised checkpoints are not supported (Distill loads F32, F16 and BF16 weights)");
        var modelType = root.OneOf("model_type", "", ModelTypes);
        CheckArchitecture(root, modelType);
        var generation = GenerationFrom(root, GenerationConfig.None);
        if (modelType != "llava")
            return new CheckpointConfig(modelType, null, ReadText(root, modelType), generation);

        var textSection = root.Section("text_config");
        var textType = textSection?.OneOf("model_type", "llama", TextModelTypes) ?? "llama";
        var text = textSection is null ? ReadText(new JsonSection(new JsonObject(), file, "text_config"), "llama") : ReadText(textSection, textType);
        var visionSection = root.Section("vision_config");
        var vision = visionSection is null ? LlavaDefaultVision : ReadVision(visionSection, visionSection.OneOf("model_type", VisionConfig.Clip, VisionModelTypes));
        if (root.Json["vision_feature_layer"] is JsonArray)
            throw root.Unsupported("vision_feature_layer", "a list of layers is not supported; give one layer index");
        if (!root.Bool("multimodal_projector_bias", true))
            throw root.Unsupported("multimodal_projector_bias", "a projector without biases is not supported");
        var imageToken = root.Has("image_token_index") ? root.Int("image_token_index", 32000) : root.Int("image_token_id", 32000);
        var vlm = new VlmConfig(vision, text, imageToken)
        {
            ProjectorHiddenAct = Activation(root, "projector_hidden_act", "gelu"),
            VisionFeatureLayer = root.Int("vision_feature_layer", -2),
            VisionFeatureSelectStrategy = root.OneOf("vision_feature_select_strategy", "default", VlmConfig.Strategies),
        };
        if (vlm.VisionLayersUsed < 0 || vlm.VisionLayersUsed > vision.Layers)
            throw root.Unsupported("vision_feature_layer", $"{vlm.VisionFeatureLayer} is outside the tower's {vision.Layers} layers");
        if (textSection is not null) generation = GenerationFrom(textSection, generation);
        return new CheckpointConfig(modelType, vlm, null, GenerationFrom(root, generation));
    }

    /// <summary>Parses a generation_config.json over <paramref name="fallback"/> (config.json's token ids).</summary>
    public static GenerationConfig ParseGeneration(string json, string file, GenerationConfig fallback)
    {
        var section = new JsonSection(ParseObject(json, file), file, "");
        var generation = GenerationFrom(section, fallback);
        var maxNew = section.IntOrNull("max_new_tokens", null);
        return generation with { MaxNewTokens = maxNew ?? generation.MaxNewTokens };
    }

    /// <summary>LlavaConfig's tower when config.json has no vision_config (CLIP ViT-L/14-336).</summary>
    private static readonly VisionConfig LlavaDefaultVision =
        new(ImageSize: 336, PatchSize: 14, HiddenSize: 1024, IntermediateSize: 4096, Layers: 24, Heads: 16) { HiddenAct = "quick_gelu" };

    private static DecoderConfig ReadText(JsonSection s, string modelType)
    {
        // transformers 4.40's defaults of LlamaConfig, Qwen2Config, MistralConfig, MixtralConfig and Qwen2MoeConfig.
        var (vocab, hidden, intermediate, maxPositions, rmsEps, theta, kvHeads, defaultHeads, defaultLayers) = modelType switch
        {
            "llama" => (32000, 4096, 11008, 2048, 1e-6, 10000.0, (int?)null, 32, 32),
            "qwen2" => (151936, 4096, 22016, 32768, 1e-6, 10000.0, 32, 32, 32),
            "mistral" => (32000, 4096, 14336, 4096 * 32, 1e-6, 10000.0, 8, 32, 32),
            "mixtral" => (32000, 4096, 14336, 4096 * 32, 1e-5, 1e6, 8, 32, 32),
            Qwen2Moe => (151936, 2048, 5632, 32768, 1e-6, 10000.0, 16, 16, 24),
            _ => throw new InvalidOperationException(modelType),
        };
        var heads = s.Int("num_attention_heads", defaultHeads);
        var layers = s.Int("num_hidden_layers", defaultLayers);
        var qwen2 = modelType is "qwen2" or Qwen2Moe;
        var llamaBias = modelType == "llama" && s.Bool("attention_bias", false);
        if (s.Bool("mlp_bias", false)) throw s.Unsupported("mlp_bias", "MLP biases are not supported");
        // A Qwen2-MoE decoder is a Qwen2 decoder with MoE layers; a Mixtral one of Distill's names the dense decoder it
        // was upcycled from (transformers' own Mixtral stays mixtral).
        var baseType = modelType switch
        {
            Qwen2Moe => "qwen2",
            "mixtral" when s.Section("distill_moe") is { } d => d.OneOf("base_model_type", "mixtral", ["llama", "mistral", "mixtral"]),
            _ => modelType,
        };
        var text = new DecoderConfig(
            VocabSize: s.Int("vocab_size", vocab),
            HiddenSize: s.Int("hidden_size", hidden),
            IntermediateSize: s.Int("intermediate_size", intermediate),
            Layers: layers,
            Heads: heads,
            KvHeads: s.IntOrNull("num_key_value_heads", kvHeads) ?? heads,
            MaxPositions: s.Int("max_position_embeddings", maxPositions),
            RopeTheta: s.Double("rope_theta", theta),
            RmsNormEps: s.Double("rms_norm_eps", rmsEps),
            TieWordEmbeddings: s.Bool("tie_word_embeddings", false))
        {
            ModelType = baseType,
            ExplicitHeadDim = s.IntOrNull("head_dim", null),
            RopeScaling = ReadRopeScaling(s),
            QkvBias = qwen2 || llamaBias,
            OutputBias = llamaBias,
            HiddenAct = Activation(s, "hidden_act", "silu"),
            SlidingWindow = SlidingWindow(s, modelType),
        };
        if (text.ExplicitHeadDim is null && text.HiddenSize % text.Heads != 0)
            throw s.Unsupported("num_attention_heads", $"{text.Heads} heads do not divide hidden_size {text.HiddenSize} (and no head_dim is given)");
        if (text.KvHeads <= 0 || text.Heads % text.KvHeads != 0)
            throw s.Unsupported("num_key_value_heads", $"{text.KvHeads} key/value heads do not divide {text.Heads} heads");
        return text with { Moe = ReadMoe(s, modelType, layers), Mod = ReadMod(s, layers) };
    }

    private static VisionConfig ReadVision(JsonSection s, string modelType)
    {
        var clip = modelType == VisionConfig.Clip;
        var vision = new VisionConfig(
            ImageSize: s.Int("image_size", 224),
            PatchSize: s.Int("patch_size", clip ? 32 : 16),
            HiddenSize: s.Int("hidden_size", 768),
            IntermediateSize: s.Int("intermediate_size", 3072),
            Layers: s.Int("num_hidden_layers", 12),
            Heads: s.Int("num_attention_heads", 12),
            LayerNormEps: s.Double("layer_norm_eps", clip ? 1e-5 : 1e-6))
        {
            ModelType = modelType,
            HiddenAct = Activation(s, "hidden_act", clip ? "quick_gelu" : "gelu_pytorch_tanh"),
            NumChannels = s.Int("num_channels", 3),
        };
        if (vision.PatchSize <= 0 || vision.PatchSize > vision.ImageSize)
            throw s.Unsupported("patch_size", $"{vision.PatchSize} must lie in 1..image_size ({vision.ImageSize})");
        if (vision.HiddenSize % vision.Heads != 0)
            throw s.Unsupported("num_attention_heads", $"{vision.Heads} heads do not divide hidden_size {vision.HiddenSize}");
        return vision;
    }

    private static RopeScaling? ReadRopeScaling(JsonSection s)
    {
        if (s.Section("rope_scaling") is not { } r) return null;
        var type = r.Has("rope_type") ? r.String("rope_type", "") : r.String("type", "");
        if (type == "default") return null;
        if (!RopeScaling.Supported.Contains(type))
            throw new InvalidDataException(
                $"{s.File}: key '{r.Where(r.Has("rope_type") ? "rope_type" : "type")}' is '{type}', which is not supported; supported: {string.Join(", ", RopeScaling.Supported)}.");
        var factor = r.Double("factor", double.NaN);
        if (!(factor >= 1)) throw r.Bad("factor", r.Json["factor"], "a number >= 1");
        return new RopeScaling(type, factor, r.IntOrNull("original_max_position_embeddings", null),
            r.Double("low_freq_factor", 1.0), r.Double("high_freq_factor", 4.0));
    }

    private static int? SlidingWindow(JsonSection s, string modelType)
    {
        switch (modelType)
        {
            case "mistral":
                return s.Has("sliding_window") ? s.IntOrNull("sliding_window", null) : 4096;
            case "mixtral":
                return s.IntOrNull("sliding_window", null);
            case "qwen2" or Qwen2Moe when s.Bool("use_sliding_window", false):
                throw s.Unsupported("use_sliding_window", "Qwen2's sliding window (on the layers from max_window_layers on) is not supported; use_sliding_window must be false");
            default:
                return null;
        }
    }

    private const string EveryOther = "every-other", Listed = "listed";

    private static MoeConfig? ReadMoe(JsonSection s, string modelType, int layers)
    {
        if (modelType is not ("mixtral" or Qwen2Moe)) return null;
        var distill = s.Section("distill_moe");
        var fileLayers = modelType == Qwen2Moe ? Qwen2MoeLayers(s, layers) : Enumerable.Range(0, layers).ToArray();
        int[] moeLayers = distill?.Json["layers"] switch
        {
            null => fileLayers,
            JsonArray list => list.Select(n => n is JsonValue v && v.TryGetValue<int>(out var i) && i >= 0 && i < layers ? i : throw distill.Bad("layers", list, $"a list of layer indices below {layers}")).ToArray(),
            var other => throw distill!.Bad("layers", other, $"a list of layer indices below {layers}"),
        };
        var everyOther = distill?.OneOf("placement", Listed, [EveryOther, Listed]) == EveryOther;
        if (everyOther && !moeLayers.SequenceEqual(new MoeConfig().LayerIndices(layers)))
            throw distill!.Bad("layers", distill.Json["layers"], $"the every-other layers of {layers} (placement is {EveryOther})");
        return new MoeConfig(
            Experts: modelType == Qwen2Moe ? s.Int("num_experts", 60) : s.Int("num_local_experts", 8),
            TopK: s.Int("num_experts_per_tok", modelType == Qwen2Moe ? 4 : 2),
            TrainCapacityFactor: distill?.Double("train_capacity_factor", 0) ?? 0,
            EvalCapacityFactor: distill?.Double("eval_capacity_factor", 0) ?? 0,
            Layers: everyOther ? null : moeLayers,
            AuxLossCoefficient: s.Double("router_aux_loss_coef", 0.001));
    }

    /// <summary>The MoE layers of a Qwen2-MoE config, refusing what Distill's MoE does not compute: experts of
    /// another width than the FFN (Distill upcycles, so an expert is the dense FFN), a shared expert, top-k weights not
    /// renormalised. MoE layers are those with (i + 1) % decoder_sparse_step == 0 and not in mlp_only_layers.</summary>
    private static int[] Qwen2MoeLayers(JsonSection s, int layers)
    {
        var intermediate = s.Int("intermediate_size", 5632);
        if (s.Int("moe_intermediate_size", 1408) != intermediate)
            throw s.Unsupported("moe_intermediate_size", $"experts of width {s.Int("moe_intermediate_size", 1408)} next to intermediate_size {intermediate}: Distill's experts have the dense FFN's width");
        if (s.Int("shared_expert_intermediate_size", 5632) != 0)
            throw s.Unsupported("shared_expert_intermediate_size", "a shared expert is not supported (Distill writes 0)");
        if (!s.Bool("norm_topk_prob", false))
            throw s.Unsupported("norm_topk_prob", "Distill's MoE renormalises the top-k routing weights (as Mixtral); norm_topk_prob must be true");
        var step = s.Int("decoder_sparse_step", 1);
        if (step < 1) throw s.Unsupported("decoder_sparse_step", $"{step} is not a positive step");
        var dense = s.Ints("mlp_only_layers") ?? [];
        return Enumerable.Range(0, layers).Where(i => (i + 1) % step == 0 && !dense.Contains(i)).ToArray();
    }

    private static ModConfig? ReadMod(JsonSection s, int layerCount)
    {
        if (s.Section("distill_mod") is not { } m) return null;
        if (m.Json["layers"] is not JsonArray list) throw m.Bad("layers", m.Json["layers"], "a list of layer indices");
        var layers = list.Select(n => n is JsonValue v && v.TryGetValue<int>(out var i) && i >= 0 && i < layerCount ? i : throw m.Bad("layers", list, $"a list of layer indices below {layerCount}")).ToArray();
        var defaults = new ModConfig(layers);
        return new ModConfig(layers,
            SkipRatio: m.Double("skip_ratio", defaults.SkipRatio),
            PrefillThreshold: m.Double("prefill_threshold", defaults.PrefillThreshold),
            DecodeThreshold: m.Double("decode_threshold", defaults.DecodeThreshold),
            RoutingLossCoefficient: m.Double("routing_loss_coef", defaults.RoutingLossCoefficient));
    }

    private static string Activation(JsonSection s, string key, string fallback)
    {
        var act = s.String(key, fallback);
        if (!Torch.Activations.IsSupported(act))
            throw s.Unsupported(key, $"activation '{act}' is not supported; supported: {string.Join(", ", Torch.Activations.Names)}");
        return act;
    }

    private static void CheckArchitecture(JsonSection root, string modelType)
    {
        if (root.Json["architectures"] is not JsonArray { Count: > 0 } list) return;
        var first = list[0]?.GetValue<string>();
        if (first != Architectures[modelType])
            throw root.Unsupported("architectures", $"'{first}' is not {Architectures[modelType]}, the class of model_type {modelType} that Distill builds");
    }

    private static GenerationConfig GenerationFrom(JsonSection s, GenerationConfig fallback) => new(
        s.IntOrNull("bos_token_id", fallback.BosTokenId),
        s.Ints("eos_token_id") ?? fallback.EosTokenIds,
        s.IntOrNull("pad_token_id", fallback.PadTokenId),
        fallback.MaxNewTokens);

    private static JsonObject ParseObject(string json, string file)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true }) as JsonObject
                ?? throw new InvalidDataException($"{file}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{file}: invalid JSON at line {e.LineNumber + 1}, position {e.BytePositionInLine + 1}: {e.Message}", e);
        }
    }

    // ---- writing ----

    /// <summary>transformers' <c>torch_dtype</c> name of a weight dtype.</summary>
    public static string TorchDTypeName(TorchSharp.torch.ScalarType dtype) => dtype switch
    {
        TorchSharp.torch.ScalarType.Float32 => "float32",
        TorchSharp.torch.ScalarType.BFloat16 => "bfloat16",
        TorchSharp.torch.ScalarType.Float16 => "float16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "not a weight dtype of a Hugging Face checkpoint"),
    };

    /// <summary>config.json of a LLaVA model, every key given (text model mixtral when it has MoE layers), its weights
    /// in <paramref name="torchDtype"/>.</summary>
    public static string Write(VlmConfig config, GenerationConfig? generation = null, string torchDtype = "float32")
    {
        var v = config.Vision;
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray(Architectures["llava"]),
            ["model_type"] = "llava",
            ["ignore_index"] = -100,
            ["image_token_index"] = config.ImageTokenId,
            ["projector_hidden_act"] = config.ProjectorHiddenAct,
            ["vision_feature_layer"] = config.VisionFeatureLayer,
            ["vision_feature_select_strategy"] = config.VisionFeatureSelectStrategy,
            ["tie_word_embeddings"] = config.Text.TieWordEmbeddings,
            ["torch_dtype"] = torchDtype,
            ["text_config"] = TextJson(config.Text, null),
            ["vision_config"] = new JsonObject
            {
                ["model_type"] = v.ModelType,
                ["hidden_size"] = v.HiddenSize,
                ["intermediate_size"] = v.IntermediateSize,
                ["num_hidden_layers"] = v.Layers,
                ["num_attention_heads"] = v.Heads,
                ["num_channels"] = v.NumChannels,
                ["image_size"] = v.ImageSize,
                ["patch_size"] = v.PatchSize,
                ["hidden_act"] = v.HiddenAct,
                ["layer_norm_eps"] = v.LayerNormEps,
            },
        };
        AddTokenIds(root, generation);
        return root.ToJsonString(Indented);
    }

    /// <summary>config.json of a text-only causal LM.</summary>
    public static string Write(DecoderConfig text, GenerationConfig? generation = null, string torchDtype = "float32")
    {
        var root = TextJson(text, Architectures[ExportedType(text)]);
        root["torch_dtype"] = torchDtype;
        AddTokenIds(root, generation);
        return root.ToJsonString(Indented);
    }

    /// <summary>generation_config.json of the token ids and settings.</summary>
    public static string WriteGeneration(GenerationConfig generation)
    {
        var root = new JsonObject();
        AddTokenIds(root, generation);
        if (generation.MaxNewTokens is { } n) root["max_new_tokens"] = n;
        return root.ToJsonString(Indented);
    }

    /// <summary>The model_type a decoder is written as: with MoE layers qwen2_moe for a Qwen2 decoder (q/k/v biases,
    /// which Mixtral lacks), mixtral otherwise; without, its own (a Mixtral whose MoE was removed: llama).</summary>
    public static string ExportedType(DecoderConfig text) =>
        text.Moe is not null ? (text.ModelType == "qwen2" ? Qwen2Moe : "mixtral") : text.ModelType == "mixtral" ? "llama" : text.ModelType;

    private static JsonObject TextJson(DecoderConfig t, string? architecture)
    {
        var type = ExportedType(t);
        var o = new JsonObject();
        if (architecture is not null) o["architectures"] = new JsonArray(architecture);
        o["model_type"] = type;
        o["vocab_size"] = t.VocabSize;
        o["hidden_size"] = t.HiddenSize;
        o["intermediate_size"] = t.IntermediateSize;
        o["num_hidden_layers"] = t.Layers;
        o["num_attention_heads"] = t.Heads;
        o["num_key_value_heads"] = t.KvHeads;
        if (t.ExplicitHeadDim is { } headDim) o["head_dim"] = headDim;
        o["hidden_act"] = t.HiddenAct;
        o["max_position_embeddings"] = t.MaxPositions;
        o["rms_norm_eps"] = t.RmsNormEps;
        o["rope_theta"] = t.RopeTheta;
        o["rope_scaling"] = t.RopeScaling is { } r ? RopeJson(r) : null;
        o["tie_word_embeddings"] = t.TieWordEmbeddings;
        o["attention_dropout"] = 0.0;
        switch (type)
        {
            case "llama":
                if (t.QkvBias != t.OutputBias)
                    throw new NotSupportedException("a llama decoder has biases on all of q/k/v/o or on none (attention_bias)");
                o["attention_bias"] = t.QkvBias;
                break;
            case "qwen2":
            case Qwen2Moe:
                o["use_sliding_window"] = false;
                o["sliding_window"] = t.MaxPositions;
                o["max_window_layers"] = t.Layers;
                break;
            case "mistral":
            case "mixtral":
                o["sliding_window"] = t.SlidingWindow;
                if (t.QkvBias || t.OutputBias)
                    throw new NotSupportedException($"a {type} decoder has no attention biases");
                break;
        }
        if (t.Moe is { } qwenMoe && type == Qwen2Moe)
        {
            // Every layer an MoE block (the dense ones as identical experts behind a zero router, as for Mixtral:
            // transformers 4.40 has no mlp_only_layers), experts as wide as the FFN, no shared expert.
            o["num_experts"] = qwenMoe.Experts;
            o["moe_intermediate_size"] = t.IntermediateSize;
            o["shared_expert_intermediate_size"] = 0;
            o["decoder_sparse_step"] = 1;
            o["mlp_only_layers"] = new JsonArray();
            o["norm_topk_prob"] = true;
        }
        else if (t.Moe is { } mixtral)
        {
            o["num_local_experts"] = mixtral.Experts;
        }
        if (t.Moe is { } moe)
        {
            o["num_experts_per_tok"] = moe.TopK;
            o["router_aux_loss_coef"] = moe.AuxLossCoefficient;
            o["output_router_logits"] = false;
            o["distill_moe"] = new JsonObject
            {
                ["base_model_type"] = t.ModelType == "mixtral" ? "mixtral" : t.ModelType,
                ["layers"] = new JsonArray(moe.LayerIndices(t.Layers).Select(i => (JsonNode)i).ToArray()),
                ["placement"] = moe.Layers is null ? EveryOther : Listed,
                ["train_capacity_factor"] = moe.TrainCapacityFactor,
                ["eval_capacity_factor"] = moe.EvalCapacityFactor,
            };
        }
        if (t.Mod is { } mod)
            o["distill_mod"] = new JsonObject
            {
                ["layers"] = new JsonArray(mod.Layers.Select(i => (JsonNode)i).ToArray()),
                ["skip_ratio"] = mod.SkipRatio,
                ["prefill_threshold"] = mod.PrefillThreshold,
                ["decode_threshold"] = mod.DecodeThreshold,
                ["routing_loss_coef"] = mod.RoutingLossCoefficient,
            };
        return o;
    }

    private static JsonObject RopeJson(RopeScaling r)
    {
        var o = new JsonObject { ["type"] = r.Type, ["rope_type"] = r.Type, ["factor"] = r.Factor };
        if (r.Type == "llama3")
        {
            o["low_freq_factor"] = r.LowFreqFactor;
            o["high_freq_factor"] = r.HighFreqFactor;
        }
        if (r.OriginalMaxPositions is { } original) o["original_max_position_embeddings"] = original;
        return o;
    }

    private static void AddTokenIds(JsonObject o, GenerationConfig? generation)
    {
        if (generation is null) return;
        if (generation.BosTokenId is { } bos) o["bos_token_id"] = bos;
        if (generation.EosTokenIds.Count == 1) o["eos_token_id"] = generation.EosTokenIds[0];
        else if (generation.EosTokenIds.Count > 1) o["eos_token_id"] = new JsonArray(generation.EosTokenIds.Select(i => (JsonNode)i).ToArray());
        if (generation.PadTokenId is { } pad) o["pad_token_id"] = pad;
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
