using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary><c>mlp2x_gelu</c> projector: linear_2(gelu(linear_1(x))), vision width -> text width.</summary>
public sealed class MultiModalProjector : nn.Module<Tensor, Tensor>
{
    private readonly Linear linear_1;
    private readonly Linear linear_2;

    public MultiModalProjector(long visionHidden, long textHidden) : base(nameof(MultiModalProjector))
    {
        linear_1 = nn.Linear(visionHidden, textHidden);
        linear_2 = nn.Linear(textHidden, textHidden);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,N,Dv] -> [B,N,Dt]
    {
        using var scope = torch.NewDisposeScope();
        return linear_2.forward(nn.functional.gelu(linear_1.forward(x))).MoveToOuterDisposeScope();
    }
}
