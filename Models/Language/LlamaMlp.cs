using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Language;

/// <summary>SwiGLU feed-forward: down(silu(gate(x)) * up(x)). No biases.</summary>
public sealed class LlamaMlp : nn.Module<Tensor, Tensor>
{
    private readonly Linear gate_proj;
    private readonly Linear up_proj;
    private readonly Linear down_proj;

    public LlamaMlp(long hidden, long intermediate) : base(nameof(LlamaMlp))
    {
        gate_proj = nn.Linear(hidden, intermediate, hasBias: false);
        up_proj = nn.Linear(hidden, intermediate, hasBias: false);
        down_proj = nn.Linear(intermediate, hidden, hasBias: false);
        RegisterComponents();
    }

    public Linear GateProj => gate_proj;
    public Linear UpProj => up_proj;
    public Linear DownProj => down_proj;

    public override Tensor forward(Tensor x) // [B,T,D] -> [B,T,D]
    {
        using var scope = torch.NewDisposeScope();
        var gated = nn.functional.silu(gate_proj.forward(x)) * up_proj.forward(x); // [B,T,I]
        return down_proj.forward(gated).MoveToOuterDisposeScope();
    }
}
