using Distill.Models.Config;
using Distill.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Moe;

/// <summary>Sparse upcycling (LLaVA-MoD, DESIGN 3 and 5.2): the FFN of every layer chosen by a <see cref="MoeConfig"/>
/// becomes an <see cref="MoeMlp"/> whose experts are exact copies of that dense FFN.</summary>
public static class MoeUpcycling
{
    /// <summary>Upcycles a dense model in place: replaces the FFN of every layer i with
    /// <c>config.IsMoeLayer(i)</c> (old FFNs disposed), router weights drawn from N(0, 0.02) with the global torch
    /// RNG (seed it first for reproducibility), then sets <c>model.Config.Text.Moe = config</c>, so that the model
    /// saves and loads as an MoE model. Returns the same model. Throws if the model already has MoE layers.</summary>
    public static VisionLanguageModel Upcycle(VisionLanguageModel model, MoeConfig config)
    {
        var text = model.Config.Text;
        if (text.Moe is not null) throw new InvalidOperationException($"the model is already MoE ({text.Moe}).");
        CheckLayers(config, text.Layers);
        var layers = model.LanguageModel.Model.Layers;
        for (var i = 0; i < layers.Count; i++)
        {
            if (!config.IsMoeLayer(i)) continue;
            if (layers[i].Mlp is not LlamaMlp dense)
                throw new InvalidOperationException($"layer {i}: FFN is a {layers[i].Mlp.GetType().Name}, not a dense LlamaMlp.");
            layers[i].ReplaceMlp(MoeMlp.Upcycle(dense, config)).Dispose();
        }
        model.Config = model.Config with { Text = text with { Moe = config } };
        return model;
    }

    /// <summary>For a decoder built from a config with <see cref="DecoderConfig.Moe"/> set: gives every chosen layer
    /// a fresh (not upcycled) <see cref="MoeMlp"/>, to be initialised or loaded by the caller.</summary>
    internal static void BuildMoeLayers(IList<LlamaDecoderLayer> layers, DecoderConfig config)
    {
        if (config.Moe is not { } moe) return;
        CheckLayers(moe, config.Layers);
        for (var i = 0; i < layers.Count; i++)
            if (moe.IsMoeLayer(i))
                layers[i].ReplaceMlp(new MoeMlp(config.HiddenSize, config.IntermediateSize, moe)).Dispose();
    }

    /// <summary>Indices of the MoE layers of a decoder with <paramref name="layerCount"/> layers.</summary>
    public static int[] MoeLayerIndices(MoeConfig config, int layerCount) =>
        Enumerable.Range(0, layerCount).Where(config.IsMoeLayer).ToArray();

    private static void CheckLayers(MoeConfig config, int layerCount)
    {
        var outside = (config.Layers ?? []).Where(i => i < 0 || i >= layerCount).ToArray();
        if (outside.Length > 0)
            throw new ArgumentException(
                $"MoE layer(s) {string.Join(",", outside)} outside the decoder's {layerCount} layers.");
    }
}
