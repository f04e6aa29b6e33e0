using static TorchSharp.torch;

namespace Distill.Models.Devices;

/// <summary>The <c>distill.dtype</c> setting: the dtype every stage builds and loads its models in. <c>float32</c>
/// (default) or <c>bfloat16</c> (half the memory of the weights and activations; trainable parameters keep float32
/// master copies in the optimiser, and logits, softmaxes and losses stay float32).</summary>
public static class ComputeDType
{
    public const string Key = "distill.dtype";

    /// <summary>The allowed values.</summary>
    public static IReadOnlyList<string> Names { get; } = ["float32", "bfloat16"];

    /// <summary>The torch dtype of an allowed value; anything else is refused naming the key and the allowed values.</summary>
    public static ScalarType Parse(string value) => value.Trim() switch
    {
        "float32" => ScalarType.Float32,
        "bfloat16" => ScalarType.BFloat16,
        _ => throw new ArgumentException($"{Key} = '{value}' is not supported; allowed: {string.Join(", ", Names)}"),
    };

    /// <summary>The setting's name for a dtype <see cref="Parse"/> returns.</summary>
    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.BFloat16 => "bfloat16",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, $"not a {Key} value"),
    };
}
