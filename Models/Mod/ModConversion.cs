using Distill.Models.Config;
using Distill.Models.Language;

namespace Distill.Models.Mod;

/// <summary>gamma-MoD conversion (DESIGN 5.4 step 3): the chosen decoder layers become <see cref="ModDecoderLayer"/>s
/// around their own weights, all sharing one fresh <see cref="ModRouter"/>.</summary>
public static class ModConversion
{
    /// <summary>Converts a model in place: wraps every layer in <c>config.Layers</c> (weights untouched), creates the
    /// shared router (N(0, 0.02) from the global torch RNG; on the model's device and dtype) and sets
    /// <c>model.Config.Text.Mod = config</c>, so that the model saves and loads as a MoD model. With an empty layer
    /// list nothing is wrapped and no router is made. Returns the same model. Throws if it is MoD already.</summary>
    public static VisionLanguageModel Convert(VisionLanguageModel model, ModConfig config)
    {
        var text = model.Config.Text;
        if (text.Mod is not null) throw new InvalidOperationException($"the model is already MoD ({text.Mod}).");
        Validate(config, text.Layers);
        model.LanguageModel.Model.InstallMod(config, model.Device);
        model.Config = model.Config with { Text = text with { Mod = config } };
        return model;
    }

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
