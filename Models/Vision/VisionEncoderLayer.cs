using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>Pre-LN transformer block (HF <c>CLIPEncoderLayer</c> / <c>SiglipEncoderLayer</c>):
/// h = x + Attn(LN1(x)); out = h + MLP(LN2(h)).</summary>
public sealed class VisionEncoderLayer : nn.Module<Tensor, Tensor>
{
    private readonly LayerNorm layer_norm1;
    private readonly VisionAttention self_attn;
    private readonly LayerNorm layer_norm2;
    private readonly VisionMlp mlp;

    public VisionEncoderLayer(VisionConfig config, Placement? placement = null) : base(nameof(VisionEncoderLayer))
    {
        layer_norm1 = placement.LayerNorm(config.HiddenSize, config.LayerNormEps);
        self_attn = new VisionAttention(config, placement);
        layer_norm2 = placement.LayerNorm(config.HiddenSize, config.LayerNormEps);
        mlp = new VisionMlp(config, placement);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,N,Dv] -> [B,N,Dv]
    {
        using var scope = torch.NewDisposeScope();
        var h = x.add(self_attn.forward(layer_norm1.forward(x)), Scalars.One);
        return h.add(mlp.forward(layer_norm2.forward(h)), Scalars.One).MoveToOuterDisposeScope();
    }
}
