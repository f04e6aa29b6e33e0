using Distill.Models.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>LLaVA-style model: vision tower -> mlp2x_gelu projector -> LLaMA decoder.
/// HF parameter names: <c>vision_tower.*</c>, <c>multi_modal_projector.linear_1/2.*</c>,
/// <c>language_model.model.embed_tokens.weight</c>, <c>language_model.model.layers.N.*</c>,
/// <c>language_model.model.norm.weight</c>, <c>language_model.lm_head.weight</c>.</summary>
public sealed class VisionLanguageModel : nn.Module
{
    public VlmConfig Config { get; }

    public VisionLanguageModel(VlmConfig config) : base("llava")
    {
        Config = config;
        throw new NotImplementedException("contract stub");
    }

    /// <summary>pixels [B,3,H,W] float (see <see cref="ImageTensors"/>), inputIds [B,T] int64 with exactly
    /// NumPatches image tokens per row; attentionMask [B,T] (1 = real token, 0 = pad) or null for none.
    /// Returns logits [B,T,V].</summary>
    public Tensor Forward(Tensor pixels, Tensor inputIds, Tensor? attentionMask = null) => throw new NotImplementedException();

    /// <summary>Greedy decoding of a batch of prompts (each ending in the assistant marker), left-padded
    /// internally. Returns, per prompt, the generated ids without the prompt and without the final eos.</summary>
    public IReadOnlyList<int[]> GenerateGreedy(Tensor pixels, IReadOnlyList<int[]> prompts, int maxNewTokens, int eosId, int padId)
        => throw new NotImplementedException();

    /// <summary>Copies the vision tower weights from another model (same VisionConfig).</summary>
    public void LoadVisionTowerFrom(VisionLanguageModel other) => throw new NotImplementedException();

    /// <summary>Freezes (requires_grad = false) the vision tower.</summary>
    public void FreezeVisionTower() => throw new NotImplementedException();

    /// <summary>Total parameter count.</summary>
    public long ParameterCount() => throw new NotImplementedException();
}
