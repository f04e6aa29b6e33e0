using Distill.Models.Config;
using Distill.Models.Language;
using Distill.Models.Mod;
using Distill.Models.Moe;
using Distill.Models.Torch;

namespace Distill.Models;

/// <summary>Builds the decoder a <see cref="DecoderConfig"/> describes: the dense Llama-family decoder, then the
/// extensions it names install themselves (MoE blocks for <see cref="DecoderConfig.Moe"/>, MoD routes and the shared
/// router for <see cref="DecoderConfig.Mod"/>), freshly initialised; a checkpoint loader fills in the weights.</summary>
public static class DecoderFactory
{
    public static LlamaForCausalLM Create(DecoderConfig config, Placement? placement = null)
    {
        var decoder = new LlamaForCausalLM(config with { Moe = null, Mod = null }, placement);
        if (config.Moe is { } moe) MoeUpcycling.BuildMoeLayers(decoder, moe);
        if (config.Mod is { } mod) ModConversion.Convert(decoder, mod);
        return decoder;
    }
}
