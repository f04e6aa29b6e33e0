using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>Gated feed-forward (HF <c>LlamaMLP</c> / <c>Qwen2MLP</c>): down(act(gate(x)) * up(x)), act = <c>hidden_act</c>
/// (silu: SwiGLU). No biases.</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    private readonly Func<Tensor, Tensor> _act;

    public LlamaMlp(long hidden, long intermediate, string hiddenAct = "silu", Placement? placement = null) : base(nameof(LlamaMlp))
    {
        _act = Activations.Get(hiddenAct);
        gate_proj = placement.Linear(hidden, intermediate, hasBias: false);
        up_proj = placement.Linear(hidden, intermediate, hasBias: false);
        down_proj = placement.Linear(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    public Linear GateProj => gate_proj;
    public Linear UpProj => up_proj;
    public Linear DownProj => down_proj;

    public override Tensor forward(Tensor x) // [B,T,D] -> [B,T,D]
    {
        using var scope = torch.NewDisposeScope();
        var gated = _act(gate_proj.forward(x)) * up_proj.forward(x);             // [B,T,I]
        return down_proj.forward(gated).MoveToOuterDisposeScope();
    }
}
