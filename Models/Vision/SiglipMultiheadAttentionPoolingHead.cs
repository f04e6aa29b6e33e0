using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>HF <c>SiglipMultiheadAttentionPoolingHead</c> (<c>vision_model.head</c>): a learned probe that pools the
/// last hidden state for SigLIP's contrastive objective. LLaVA never runs it; its parameters are here so that a
/// SigLIP tower loads and saves under transformers' names (<c>probe</c>, <c>attention.in_proj_weight/bias</c>,
/// <c>attention.out_proj</c>, <c>layernorm</c>, <c>mlp.fc1/fc2</c>), and a checkpoint without them still loads.</summary>
public sealed class SiglipMultiheadAttentionPoolingHead : nn.Module
{
    private readonly Parameter probe;
    private readonly PoolingAttention attention;
    private readonly LayerNorm layernorm;
    private readonly VisionMlp mlp;

    public SiglipMultiheadAttentionPoolingHead(VisionConfig config, Placement? placement = null) : base(nameof(SiglipMultiheadAttentionPoolingHead))
    {
        probe = new Parameter((placement ?? Placement.Cpu).Empty(1, 1, config.HiddenSize));
        using (torch.no_grad()) nn.init.normal_(probe, 0.0, Init.Std);
        attention = new PoolingAttention(config.HiddenSize, placement);
        layernorm = placement.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new VisionMlp(config, placement);
        RegisterComponents();
    }

    /// <summary>The parameters of torch's <c>nn.MultiheadAttention</c> (packed q/k/v projection, out projection).</summary>
    private sealed class PoolingAttention : nn.Module
    {
        private readonly Parameter in_proj_weight;
        private readonly Parameter in_proj_bias;
        private readonly Linear out_proj;

        public PoolingAttention(int hidden, Placement? placement) : base("MultiheadAttention")
        {
            in_proj_weight = new Parameter((placement ?? Placement.Cpu).Empty(3 * hidden, hidden));
            using (torch.no_grad()) nn.init.normal_(in_proj_weight, 0.0, Init.Std);
            in_proj_bias = new Parameter((placement ?? Placement.Cpu).Zeros(3 * hidden));
            out_proj = placement.Linear(hidden, hidden, hasBias: true);
            RegisterComponents();
        }
    }
}
