using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>What LLaVA reads from a tower's <c>vision_model</c>: one entry of transformers' <c>hidden_states</c>.</summary>
public interface IVisionTransformer
{
    /// <summary>Encoder layers.</summary>
    int Layers { get; }

    /// <summary>pixels [B,3,S,S] -> <c>hidden_states[index]</c> [B,rows,Dv]: 0 = the embeddings (after CLIP's
    /// pre-layernorm), i = the output of layer i; only the layers up to <paramref name="index"/> run.</summary>
    Tensor HiddenState(Tensor pixels, int index);
}
