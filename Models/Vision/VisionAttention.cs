using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>Bidirectional multi-head self-attention over patch tokens (q/k/v/out projections with bias).</summary>
public sealed class VisionAttention : nn.Module<Tensor, Tensor>
{
    private readonly Linear q_proj;
    private readonly Linear k_proj;
    private readonly Linear v_proj;
    private readonly Linear out_proj;
    private readonly int _heads, _headDim;

    public VisionAttention(VisionConfig config) : base(nameof(VisionAttention))
    {
        if (config.HiddenSize % config.Heads != 0)
            throw new ArgumentException($"vision hidden size {config.HiddenSize} is not divisible by {config.Heads} heads.");
        _heads = config.Heads;
        _headDim = config.HiddenSize / config.Heads;
        q_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        k_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        v_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        out_proj = nn.Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,N,Dv] -> [B,N,Dv]
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], n = x.shape[1];
        var q = q_proj.forward(x).view(b, n, _heads, _headDim).transpose(1, 2); // [B,H,N,d]
        var k = k_proj.forward(x).view(b, n, _heads, _headDim).transpose(1, 2);
        var v = v_proj.forward(x).view(b, n, _heads, _headDim).transpose(1, 2);
        var scores = q.matmul(k.transpose(-2, -1)).div(Scalars.Of(Math.Sqrt(_headDim)));       // [B,H,N,N]
        var context = scores.softmax(-1).matmul(v);                              // [B,H,N,d]
        var merged = context.transpose(1, 2).reshape(b, n, _heads * _headDim);  // [B,N,Dv]
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
