using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Torch;

/// <summary>The activations config.json names (transformers' <c>ACT2FN</c>): <c>gelu</c> (exact, erf),
/// <c>gelu_pytorch_tanh</c> / <c>gelu_new</c> (tanh approximation), <c>quick_gelu</c> (<c>x * sigmoid(1.702 x)</c>),
/// <c>silu</c> / <c>swish</c>, <c>relu</c>, <c>linear</c> (identity).</summary>
public static class Activations
{
    public static readonly IReadOnlyList<string> Names = ["gelu", "gelu_pytorch_tanh", "gelu_new", "quick_gelu", "silu", "swish", "relu", "linear"];

    public static bool IsSupported(string name) => Names.Contains(name);

    /// <summary>The activation of <paramref name="name"/>; throws for a name not in <see cref="Names"/>.</summary>
    public static Func<Tensor, Tensor> Get(string name) => name switch
    {
        "gelu" => x => nn.functional.gelu(x),
        "gelu_pytorch_tanh" or "gelu_new" => x => nn.functional.gelu(x, GELU.Approximate.tanh),
        "quick_gelu" => QuickGelu,
        "silu" or "swish" => x => nn.functional.silu(x),
        "relu" => x => nn.functional.relu(x),
        "linear" => x => x.alias(),
        _ => throw new ArgumentException($"activation '{name}' is not supported; supported: {string.Join(", ", Names)}"),
    };

    /// <summary>x * sigmoid(1.702 x) (CLIP's quick_gelu).</summary>
    private static Tensor QuickGelu(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        return (x * torch.sigmoid(x * Scalars.Of(1.702))).MoveToOuterDisposeScope();
    }
}
