using Distill.Models.Config;
using Distill.Models.Language;
using TorchSharp;

namespace Distill.Models.Mod;

/// <summary>gamma-MoD conversion (DESIGN 5.4 step 3): the chosen decoder layers become <see cref="ModDecoderLayer"/>s
/// around their own weights, all sharing one fresh <see cref="ModRouter"/>.</summary>
public static class ModConversion
{
    /// <summary>The name the shared router is registered under in the decoder (<c>model.mod_router</c>).</summary>
    public const string RouterName = "mod_router";

    /// <summary>Converts a decoder in place: routes every layer in <c>config.Layers</c> through a
    /// <see cref="ModDecoderLayer"/> (weights and names untouched), registers the shared router as
    /// <c>model.mod_router</c> (N(0, 0.02) from the global torch RNG; on the decoder's device and dtype) and records
    /// <c>Mod = config</c> in the decoder's config, so that it saves and loads as a MoD model. With an empty layer list
    /// nothing is routed and no router is made. Returns the same decoder. Throws if it is MoD already.</summary>
    public static LlamaForCausalLM Convert(LlamaForCausalLM decoder, ModConfig config)
    {
        var text = decoder.Config;
        if (text.Mod is not null) throw new InvalidOperationException($"the model is already MoD ({text.Mod}).");
        Validate(config, text.Layers);
        var model = decoder.Model;
        var chosen = ModLayerIndices(config, model.Layers.Count);
        if (chosen.Length > 0)
        {
            var reference = model.Layers[0].InputLayernorm.Weight;
            var router = new ModRouter(reference.shape[0]);
            router.to(reference.dtype).to(reference.device);
            model.Attach(RouterName, router);
            foreach (var i in chosen)
                model.SetRoute(i, new ModDecoderLayer(model.Layers[i], router, config, model.Rope));
        }
        decoder.Config = text with { Mod = config };
        return decoder;
    }

    /// <summary>The MoD layers of a decoder, in layer order (empty without MoD).</summary>
    public static IReadOnlyList<ModDecoderLayer> Layers(LlamaModel model) => model.Routes.OfType<ModDecoderLayer>().ToList();

    /// <summary>Indices of the MoD layers of a decoder with <paramref name="layerCount"/> layers, ascending.</summary>
    public static int[] ModLayerIndices(ModConfig config, int layerCount) =>
        Enumerable.Range(0, layerCount).Where(config.IsModLayer).ToArray();

    /// <summary>Checks the layer indices, skip ratio and thresholds of a MoD config.</summary>
    public static void Validate(ModConfig config, int layerCount)
    {
        var outside = (config.Layers ?? []).Where(i => i < 0 || i >= layerCount).ToArray();
        if (outside.Length > 0)
            throw new ArgumentException($"MoD layer(s) {string.Join(",", outside)} outside the decoder's {layerCount} layers.");
        CheckUnit(config.SkipRatio, "skip ratio");
        CheckUnit(config.PrefillThreshold, "prefill threshold");
        CheckUnit(config.DecodeThreshold, "decode threshold");
        if (config.RoutingLossCoefficient < 0 || double.IsNaN(config.RoutingLossCoefficient))
            throw new ArgumentException($"MoD routing loss coefficient {config.RoutingLossCoefficient} is negative.");

        static void CheckUnit(double value, string what)
        {
            if (value is < 0 or > 1 || double.IsNaN(value))
                throw new ArgumentException($"MoD {what} {value} is outside [0, 1].");
        }
    }
}
