using Distill.Models.Language;
using static TorchSharp.torch;

namespace Distill.Models.Generation;

/// <summary>What batched decoding needs of a model: a KV cache, a prefill of the left-padded prompts and one step per
/// new token. A causal LM is one (<see cref="CausalLmDecoder"/>); a LLaVA model is one for a batch of image features
/// (<see cref="ImageConditionedDecoder"/>).</summary>
public interface IIncrementalDecoder
{
    Device Device { get; }

    KvCache NewKvCache(long capacity);

    /// <summary>ids [B,T], mask [B,T] (0 on the left padding) -> logits [B,1,V] of each row's last position.</summary>
    Tensor Prefill(Tensor ids, Tensor mask, KvCache cache);

    /// <summary>ids [B,1] after the cached positions -> logits [B,1,V].</summary>
    Tensor DecodeStep(Tensor ids, KvCache cache);
}

/// <summary>A text-only causal LM as an <see cref="IIncrementalDecoder"/>.</summary>
public sealed class CausalLmDecoder(LlamaForCausalLM model) : IIncrementalDecoder
{
    public Device Device => model.Model.EmbedTokens.weight!.device;

    public KvCache NewKvCache(long capacity) => model.Model.NewKvCache(capacity);

    public Tensor Prefill(Tensor ids, Tensor mask, KvCache cache) =>
        model.forward(model.Model.Embed(ids.to(Device)), mask.to(Device), cache, lastOnly: true);

    public Tensor DecodeStep(Tensor ids, KvCache cache) => model.forward(model.Model.Embed(ids.to(Device)), null, cache);
}

/// <summary>A LLaVA model decoding after the image features [B,F,Dt] of one image per prompt.</summary>
public sealed class ImageConditionedDecoder(VisionLanguageModel model, Tensor imageFeatures) : IIncrementalDecoder
{
    public Device Device => model.Device;

    public KvCache NewKvCache(long capacity) => model.NewKvCache(capacity);

    public Tensor Prefill(Tensor ids, Tensor mask, KvCache cache) => model.Prefill(imageFeatures, ids, mask, cache, lastOnly: true);

    public Tensor DecodeStep(Tensor ids, KvCache cache) => model.DecodeStep(ids, cache);
}
