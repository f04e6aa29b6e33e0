using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>ViT feed-forward: fc2(gelu(fc1(x))).</summary>
public sealed class VisionMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;

    public VisionMlp(long hidden, long intermediate) : base(nameof(VisionMlp))
    {
        fc1 = nn.Linear(hidden, intermediate);
        fc2 = nn.Linear(intermediate, hidden);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,N,Dv] -> [B,N,Dv]
    {
        using var scope = torch.NewDisposeScope();
        return fc2.forward(nn.functional.gelu(fc1.forward(x))).MoveToOuterDisposeScope();
    }
}
