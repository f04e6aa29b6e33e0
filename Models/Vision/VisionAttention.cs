using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>Bidirectional multi-head self-attention over the tower's rows (HF <c>CLIPAttention</c> /
/// <c>SiglipAttention</c>): q/k/v/out projections with biases, scale head_dim^-0.5. CLIP scales the queries before the
/// product, SigLIP the product; both as transformers does, so the rounding matches too.</summary>
public sealed class VisionAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
    private readonly int _heads, _headDim;
    private readonly bool _scaleQueries;
    private readonly double _scale;

    public VisionAttention(VisionConfig config, Placement? placement = null) : base(nameof(VisionAttention))
    {
        if (config.HiddenSize % config.Heads != 0)
            throw new ArgumentException($"vision hidden size {config.HiddenSize} is not divisible by {config.Heads} heads.");
        _heads = config.Heads;
        _headDim = config.HeadDim;
        _scale = Math.Pow(_headDim, -0.5);
        _scaleQueries = config.ModelType == VisionConfig.Clip;
        q_proj = placement.Linear(config.HiddenSize, config.HiddenSize, hasBias: true);
        k_proj = placement.Linear(config.HiddenSize, config.HiddenSize, hasBias: true);
        v_proj = placement.Linear(config.HiddenSize, config.HiddenSize, hasBias: true);
        out_proj = placement.Linear(config.HiddenSize, config.HiddenSize, hasBias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,N,Dv] -> [B,N,Dv]
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], n = x.shape[1];
        var scale = Scalars.Of(_scale);
        var q = q_proj.forward(x);                                                        // [B,N,Dv]
        if (_scaleQueries) q = q * scale;
        q = q.view(b, n, _heads, _headDim).transpose(1, 2);                               // [B,H,N,d]
        var k = k_proj.forward(x).view(b, n, _heads, _headDim).transpose(1, 2);           // [B,H,N,d]
        var v = v_proj.forward(x).view(b, n, _heads, _headDim).transpose(1, 2);           // [B,H,N,d]
        var scores = q.matmul(k.transpose(-2, -1));                                       // [B,H,N,N]
        if (!_scaleQueries) scores = scores * scale;
        var probs = scores.softmax(-1, ScalarType.Float32).to_type(q.dtype);              // [B,H,N,N]
        var context = probs.matmul(v);                                                    // [B,H,N,d]
        var merged = context.transpose(1, 2).reshape(b, n, _heads * _headDim);            // [B,N,Dv]
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
