using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models;

/// <summary>HF <c>LlavaMultiModalProjector</c> (<c>multi_modal_projector</c>): linear_2(act(linear_1(x))), vision width
/// -> text width, act = <c>projector_hidden_act</c> (gelu: LLaVA-1.5's mlp2x_gelu; linear: no activation).</summary>
public sealed class MultiModalProjector : nn.Module<Tensor, Tensor>
{
    private readonly Linear linear_1;
    private readonly Linear linear_2;
    private readonly Func<Tensor, Tensor> _act;

    public MultiModalProjector(long visionHidden, long textHidden, string hiddenAct = "gelu", Placement? placement = null) : base(nameof(MultiModalProjector))
    {
        _act = Activations.Get(hiddenAct);
        linear_1 = placement.Linear(visionHidden, textHidden, hasBias: true);
        linear_2 = placement.Linear(textHidden, textHidden, hasBias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,F,Dv] -> [B,F,Dt]
    {
        using var scope = torch.NewDisposeScope();
        return linear_2.forward(_act(linear_1.forward(x))).MoveToOuterDisposeScope();
    }
}
