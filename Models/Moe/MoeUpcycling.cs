using Distill.Models.Config;
using Distill.Models.Language;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Moe;

/// <summary>Sparse upcycling (LLaVA-MoD, DESIGN 3 and 5.2): the FFN of every layer chosen by a <see cref="MoeConfig"/>
/// becomes an <see cref="MoeMlp"/> whose experts are exact copies of that dense FFN, registered as Mixtral's
/// <c>block_sparse_moe</c>.</summary>
public static class MoeUpcycling
{
    /// <summary>Upcycles a dense decoder in place: replaces the FFN of every layer i with <c>config.IsMoeLayer(i)</c>
    /// (old FFNs disposed), router weights drawn from N(0, 0.02) with the global torch RNG (seed it first for
    /// reproducibility), then records <c>Moe = config</c> in the decoder's config, so that it saves and loads as an MoE
    /// model. Returns the same decoder. Throws if it has MoE layers already.</summary>
    public static LlamaForCausalLM Upcycle(LlamaForCausalLM decoder, MoeConfig config)
    {
        var text = decoder.Config;
        if (text.Moe is not null) throw new InvalidOperationException($"the model is already MoE ({text.Moe}).");
        CheckLayers(config, text.Layers);
        var layers = decoder.Model.Layers;
        foreach (var i in config.LayerIndices(layers.Count))
        {
            if (layers[i].Mlp is not LlamaMlp dense)
                throw new InvalidOperationException($"layer {i}: FFN is a {layers[i].Mlp.GetType().Name}, not a dense LlamaMlp.");
            layers[i].ReplaceFeedForward(MoeMlp.Upcycle(dense, config, text.HiddenAct), MoeMlp.ModuleName).Dispose();
        }
        decoder.Config = text with { Moe = config };
        return decoder;
    }

    /// <summary>For a decoder to be loaded as an MoE model: gives every chosen layer a fresh (not upcycled)
    /// <see cref="MoeMlp"/>, to be initialised or loaded by the caller, and records <c>Moe = config</c>.</summary>
    public static void BuildMoeLayers(LlamaForCausalLM decoder, MoeConfig config)
    {
        var text = decoder.Config;
        CheckLayers(config, text.Layers);
        var layers = decoder.Model.Layers;
        var weight = layers[0].InputLayernorm.Weight;
        foreach (var i in config.LayerIndices(layers.Count))
        {
            var moe = new MoeMlp(text.HiddenSize, text.IntermediateSize, config, text.HiddenAct);
            moe.to(weight.dtype).to(weight.device);
            layers[i].ReplaceFeedForward(moe, MoeMlp.ModuleName).Dispose();
        }
        decoder.Config = text with { Moe = config };
    }

    private static void CheckLayers(MoeConfig config, int layerCount)
    {
        var outside = (config.Layers ?? []).Where(i => i < 0 || i >= layerCount).ToArray();
        if (outside.Length > 0)
            throw new ArgumentException(
                $"MoE layer(s) {string.Join(",", outside)} outside the decoder's {layerCount} layers.");
    }
}
