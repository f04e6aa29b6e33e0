using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Distill.Models.Config;

namespace Distill.Models.Checkpoints;

/// <summary>Hugging Face style <c>config.json</c> for a LLaVA model (LlavaForConditionalGeneration with a CLIP
/// vision config and a Llama text config).</summary>
public static class LlavaConfigJson
{
    public static string ToJson(VlmConfig config)
    {
        var v = config.Vision;
        var t = config.Text;
        var root = new JsonObject
        {
            ["architectures"] = new JsonArray("LlavaForConditionalGeneration"),
            ["model_type"] = "llava",
            ["image_token_index"] = config.ImageTokenId,
            ["projector_hidden_act"] = ActivationOf(config.ProjectorType),
            ["vision_feature_layer"] = v.SelectLayer,
            ["vision_feature_select_strategy"] = "full",
            ["torch_dtype"] = "float32",
            ["tie_word_embeddings"] = t.TieWordEmbeddings,
            ["vision_config"] = new JsonObject
            {
                ["model_type"] = "clip_vision_model",
                ["hidden_size"] = v.HiddenSize,
                ["intermediate_size"] = v.IntermediateSize,
                ["num_hidden_layers"] = v.Layers,
                ["num_attention_heads"] = v.Heads,
                ["image_size"] = v.ImageSize,
                ["patch_size"] = v.PatchSize,
                ["layer_norm_eps"] = v.LayerNormEps,
                ["hidden_act"] = "gelu",
            },
            ["text_config"] = new JsonObject
            {
                ["model_type"] = "llama",
                ["vocab_size"] = t.VocabSize,
                ["hidden_size"] = t.HiddenSize,
                ["intermediate_size"] = t.IntermediateSize,
                ["num_hidden_layers"] = t.Layers,
                ["num_attention_heads"] = t.Heads,
                ["num_key_value_heads"] = t.KvHeads,
                ["max_position_embeddings"] = t.MaxPositions,
                ["rope_theta"] = t.RopeTheta,
                ["rms_norm_eps"] = t.RmsNormEps,
                ["tie_word_embeddings"] = t.TieWordEmbeddings,
                ["hidden_act"] = "silu",
            },
        };
        if (t.Moe is { } moe) WriteMoe((JsonObject)root["text_config"]!, moe);
        if (t.Mod is { } mod) WriteMod((JsonObject)root["text_config"]!, mod);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>Parses a config.json; <paramref name="source"/> names the file in errors.</summary>
    public static VlmConfig Parse(string json, string source = "config.json")
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject ?? throw new InvalidDataException($"{source}: not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: invalid JSON: {e.Message}", e);
        }
        var modelType = root["model_type"]?.GetValue<string>();
        if (modelType != "llava") throw new InvalidDataException($"{source}: model_type is '{modelType}', expected 'llava'.");
        var act = Optional(root, "projector_hidden_act", "gelu", source);
        if (act != "gelu") throw new InvalidDataException($"{source}: projector_hidden_act '{act}' is not supported (gelu only).");
        var vc = root["vision_config"] as JsonObject ?? throw new InvalidDataException($"{source}: missing key 'vision_config'.");
        var tc = root["text_config"] as JsonObject ?? throw new InvalidDataException($"{source}: missing key 'text_config'.");
        var vision = new VisionConfig(
            ImageSize: Required<int>(vc, "image_size", source, "vision_config"),
            PatchSize: Required<int>(vc, "patch_size", source, "vision_config"),
            HiddenSize: Required<int>(vc, "hidden_size", source, "vision_config"),
            IntermediateSize: Required<int>(vc, "intermediate_size", source, "vision_config"),
            Layers: Required<int>(vc, "num_hidden_layers", source, "vision_config"),
            Heads: Required<int>(vc, "num_attention_heads", source, "vision_config"),
            SelectLayer: Optional(root, "vision_feature_layer", -2, source),
            LayerNormEps: Optional(vc, "layer_norm_eps", 1e-5, source));
        var heads = Required<int>(tc, "num_attention_heads", source, "text_config");
        var text = new DecoderConfig(
            VocabSize: Required<int>(tc, "vocab_size", source, "text_config"),
            HiddenSize: Required<int>(tc, "hidden_size", source, "text_config"),
            IntermediateSize: Required<int>(tc, "intermediate_size", source, "text_config"),
            Layers: Required<int>(tc, "num_hidden_layers", source, "text_config"),
            Heads: heads,
            KvHeads: Optional(tc, "num_key_value_heads", heads, source),
            MaxPositions: Optional(tc, "max_position_embeddings", 512, source),
            RopeTheta: Optional(tc, "rope_theta", 10000.0, source),
            RmsNormEps: Optional(tc, "rms_norm_eps", 1e-6, source),
            TieWordEmbeddings: Optional(tc, "tie_word_embeddings", Optional(root, "tie_word_embeddings", false, source), source),
            Moe: ReadMoe(tc, source),
            Mod: ReadMod(tc, source));
        return new VlmConfig(vision, text, Required<int>(root, "image_token_index", source, null));
    }

    /// <summary>MoE keys of text_config (Mixtral / Qwen2-MoE names where they exist): <c>num_local_experts</c>,
    /// <c>num_experts_per_tok</c>, <c>moe_layers</c> ("every-other" or a list of layer indices),
    /// <c>moe_train_capacity_factor</c>, <c>moe_eval_capacity_factor</c>, <c>router_aux_loss_coef</c>.</summary>
    private static void WriteMoe(JsonObject tc, MoeConfig moe)
    {
        tc["num_local_experts"] = moe.Experts;
        tc["num_experts_per_tok"] = moe.TopK;
        tc["moe_layers"] = moe.Layers is null ? JsonValue.Create("every-other") : new JsonArray(moe.Layers.Select(i => (JsonNode)i).ToArray());
        tc["moe_train_capacity_factor"] = moe.TrainCapacityFactor;
        tc["moe_eval_capacity_factor"] = moe.EvalCapacityFactor;
        tc["router_aux_loss_coef"] = moe.AuxLossCoefficient;
    }

    /// <summary>The MoE settings of text_config, or null for a dense decoder (no <c>num_local_experts</c>).</summary>
    private static MoeConfig? ReadMoe(JsonObject tc, string source)
    {
        if (tc["num_local_experts"] is null) return null;
        var defaults = new MoeConfig();
        int[]? layers = tc["moe_layers"] switch
        {
            null => null,
            JsonValue v when v.TryGetValue<string>(out var text) && text == "every-other" => null,
            JsonArray a => a.Select(n => n is null ? throw Bad() : Convert<int>(n, "text_config.moe_layers", source)).ToArray(),
            _ => throw Bad(),
        };
        return new MoeConfig(
            Experts: Required<int>(tc, "num_local_experts", source, "text_config"),
            TopK: Optional(tc, "num_experts_per_tok", defaults.TopK, source),
            TrainCapacityFactor: Optional(tc, "moe_train_capacity_factor", defaults.TrainCapacityFactor, source),
            EvalCapacityFactor: Optional(tc, "moe_eval_capacity_factor", defaults.EvalCapacityFactor, source),
            Layers: layers,
            AuxLossCoefficient: Optional(tc, "router_aux_loss_coef", defaults.AuxLossCoefficient, source));

        InvalidDataException Bad() => new(
            $"{source}: key 'text_config.moe_layers' has value {tc["moe_layers"]!.ToJsonString()}, expected \"every-other\" or a list of layer indices.");
    }

    /// <summary>MoD keys of text_config: <c>mod_layers</c> (list of layer indices), <c>mod_skip_ratio</c>,
    /// <c>mod_prefill_threshold</c>, <c>mod_decode_threshold</c>, <c>mod_routing_loss_coef</c>.</summary>
    private static void WriteMod(JsonObject tc, ModConfig mod)
    {
        tc["mod_layers"] = new JsonArray(mod.Layers.Select(i => (JsonNode)i).ToArray());
        tc["mod_skip_ratio"] = mod.SkipRatio;
        tc["mod_prefill_threshold"] = mod.PrefillThreshold;
        tc["mod_decode_threshold"] = mod.DecodeThreshold;
        tc["mod_routing_loss_coef"] = mod.RoutingLossCoefficient;
    }

    /// <summary>The MoD settings of text_config, or null without MoD (no <c>mod_layers</c>).</summary>
    private static ModConfig? ReadMod(JsonObject tc, string source)
    {
        if (tc["mod_layers"] is null) return null;
        if (tc["mod_layers"] is not JsonArray list)
            throw new InvalidDataException(
                $"{source}: key 'text_config.mod_layers' has value {tc["mod_layers"]!.ToJsonString()}, expected a list of layer indices.");
        var layers = list.Select(n => n is null
            ? throw new InvalidDataException($"{source}: key 'text_config.mod_layers' holds a null.")
            : Convert<int>(n, "text_config.mod_layers", source)).ToArray();
        var defaults = new ModConfig(layers);
        return new ModConfig(
            layers,
            SkipRatio: Optional(tc, "mod_skip_ratio", defaults.SkipRatio, source),
            PrefillThreshold: Optional(tc, "mod_prefill_threshold", defaults.PrefillThreshold, source),
            DecodeThreshold: Optional(tc, "mod_decode_threshold", defaults.DecodeThreshold, source),
            RoutingLossCoefficient: Optional(tc, "mod_routing_loss_coef", defaults.RoutingLossCoefficient, source));
    }

    private static string ActivationOf(string projectorType) => projectorType switch
    {
        "mlp2x_gelu" => "gelu",
        _ => throw new NotSupportedException($"projector type '{projectorType}' has no config.json form."),
    };

    private static T Required<T>(JsonObject obj, string key, string source, string? section)
    {
        var where = section is null ? key : $"{section}.{key}";
        var node = obj[key] ?? throw new InvalidDataException($"{source}: missing key '{where}'.");
        return Convert<T>(node, where, source);
    }

    private static T Optional<T>(JsonObject obj, string key, T fallback, string source) =>
        obj[key] is { } node ? Convert<T>(node, key, source) : fallback;

    private static T Convert<T>(JsonNode node, string where, string source)
    {
        try
        {
            if (typeof(T) == typeof(double)) return (T)(object)node.GetValue<double>();
            return node.GetValue<T>();
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new InvalidDataException(
                $"{source}: key '{where}' has value {node.ToJsonString()}, expected {typeof(T).Name.ToLower(CultureInfo.InvariantCulture)}.", e);
        }
    }
}
