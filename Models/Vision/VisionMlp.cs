using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>ViT feed-forward (HF <c>CLIPMLP</c> / <c>SiglipMLP</c>): fc2(act(fc1(x))), act = <c>hidden_act</c>.</summary>
public sealed class VisionMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear fc1;
    private readonly Linear fc2;
    private readonly Func<Tensor, Tensor> _act;

    public VisionMlp(VisionConfig config, Placement? placement = null) : base(nameof(VisionMlp))
    {
        _act = Activations.Get(config.HiddenAct);
        fc1 = placement.Linear(config.HiddenSize, config.IntermediateSize, hasBias: true);
        fc2 = placement.Linear(config.IntermediateSize, config.HiddenSize, hasBias: true);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) // [B,N,Dv] -> [B,N,Dv]
    {
        using var scope = torch.NewDisposeScope();
        return fc2.forward(_act(fc1.forward(x))).MoveToOuterDisposeScope();
    }
}
