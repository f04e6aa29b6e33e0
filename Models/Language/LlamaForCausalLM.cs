using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Decoder + LM head (HF <c>LlamaForCausalLM</c> / <c>Qwen2ForCausalLM</c>): <c>model</c> and <c>lm_head</c>.
/// With tied embeddings there is no <c>lm_head</c> parameter: logits use <c>model.embed_tokens.weight</c> (as
/// Hugging Face checkpoints of tied models omit <c>lm_head.weight</c>).</summary>
public sealed class LlamaForCausalLM : nn.Module<Tensor, Tensor?, Tensor>
{
    private readonly LlamaModel model;
    private readonly Linear? lm_head;

    public LlamaForCausalLM(DecoderConfig config, Placement? placement = null) : base(nameof(LlamaForCausalLM))
    {
        Config = config;
        model = new LlamaModel(config, placement);
        if (!config.TieWordEmbeddings)
            lm_head = placement.Linear(config.HiddenSize, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    /// <summary>The configuration; MoE upcycling and MoD conversion record themselves here.</summary>
    public DecoderConfig Config { get; set; }

    public LlamaModel Model => model;

    /// <summary>hidden [B,T,D] -> logits [B,T,V] float32 whatever the model's dtype (transformers' <c>logits.float()</c>),
    /// so every loss, softmax and top-k over the vocabulary runs in float32.</summary>
    public Tensor Head(Tensor hidden)
    {
        var logits = lm_head is not null ? lm_head.forward(hidden) : nn.functional.linear(hidden, model.EmbedTokens.weight!);
        if (logits.dtype == ScalarType.Float32) return logits;
        using (logits) return logits.to_type(ScalarType.Float32);
    }

    /// <summary>inputsEmbeds [B,T,D], attentionMask [B,T] or null -> logits [B,T,V].</summary>
    public override Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask)
    {
        using var scope = torch.NewDisposeScope();
        return Head(model.forward(inputsEmbeds, attentionMask)).MoveToOuterDisposeScope();
    }

    /// <summary>Text-only forward: inputIds [B,T], attentionMask [B,T] or null -> logits [B,T,V].</summary>
    public Tensor ForwardIds(Tensor inputIds, Tensor? attentionMask = null)
    {
        using var scope = torch.NewDisposeScope();
        var device = model.EmbedTokens.weight!.device;
        return forward(model.Embed(inputIds.to(device).to_type(ScalarType.Int64)), attentionMask?.to(device)).MoveToOuterDisposeScope();
    }

    /// <summary>Incremental forward through the KV cache (see <see cref="LlamaModel.forward(Tensor, Tensor?, KvCache)"/>):
    /// inputsEmbeds [B,T,D] -> logits [B,T,V], or [B,1,V] of the last position when <paramref name="lastOnly"/>.</summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask, KvCache cache, bool lastOnly = false) =>
        forward(inputsEmbeds, attentionMask, null, cache, lastOnly);

    /// <summary>The general forward (see <see cref="LlamaModel.forward(Tensor, Tensor?, Tensor?, KvCache?, AttentionCapture?)"/>):
    /// routingHints for routed layers (null = none), cache null for a plain forward -> logits [B,T,V], or [B,1,V]
    /// of the last position when <paramref name="lastOnly"/>.</summary>
    public Tensor forward(Tensor inputsEmbeds, Tensor? attentionMask, Tensor? routingHints, KvCache? cache, bool lastOnly = false)
    {
        using var scope = torch.NewDisposeScope();
        var hidden = model.forward(inputsEmbeds, attentionMask, routingHints, cache); // [B,T,D]
        if (lastOnly) hidden = hidden.narrow(1, hidden.shape[1] - 1, 1);            // [B,1,D]
        return Head(hidden).MoveToOuterDisposeScope();
    }
}
