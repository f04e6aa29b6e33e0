using Distill.Models.Torch;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Moe;

/// <summary>One expert (HF <c>MixtralBlockSparseTop2MLP</c>): w2(act(w1(x)) * w3(x)); w1 is Llama's gate_proj, w3 its
/// up_proj, w2 its down_proj. No biases.</summary>
public sealed class MoeExpert : nn.Module<Tensor, Tensor>
{
    private readonly Linear w1;
    private readonly Linear w2;
    private readonly Linear w3;
    private readonly Func<Tensor, Tensor> _act;

    public MoeExpert(long hidden, long intermediate, string hiddenAct = "silu", Placement? placement = null) : base(nameof(MoeExpert))
    {
        _act = Activations.Get(hiddenAct);
        w1 = placement.Linear(hidden, intermediate, hasBias: false);
        w2 = placement.Linear(intermediate, hidden, hasBias: false);
        w3 = placement.Linear(hidden, intermediate, hasBias: false);
        RegisterComponents();
    }

    /// <summary>The gate projection (Llama's gate_proj) [I,D].</summary>
    public Linear W1 => w1;

    /// <summary>The down projection (Llama's down_proj) [D,I].</summary>
    public Linear W2 => w2;

    /// <summary>The up projection (Llama's up_proj) [I,D].</summary>
    public Linear W3 => w3;

    public override Tensor forward(Tensor x) // [N,D] -> [N,D]
    {
        using var scope = torch.NewDisposeScope();
        return w2.forward(_act(w1.forward(x)) * w3.forward(x)).MoveToOuterDisposeScope();
    }
}
