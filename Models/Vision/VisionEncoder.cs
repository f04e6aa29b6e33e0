using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>The stack of encoder layers (HF <c>CLIPEncoder</c> / <c>SiglipEncoder</c>).</summary>
public sealed class VisionEncoder : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<VisionEncoderLayer> layers;

    public VisionEncoder(VisionConfig config, Placement? placement = null) : base(nameof(VisionEncoder))
    {
        layers = new ModuleList<VisionEncoderLayer>(
            Enumerable.Range(0, config.Layers).Select(_ => new VisionEncoderLayer(config, placement)).ToArray());
        RegisterComponents();
    }

    public int Count => layers.Count;

    /// <summary>Runs the first <paramref name="count"/> layers: x [B,N,Dv] -> the hidden state after layer
    /// <paramref name="count"/> (transformers' <c>hidden_states[count]</c>), [B,N,Dv].</summary>
    public Tensor forward(Tensor x, int count)
    {
        using var scope = torch.NewDisposeScope();
        var h = x;
        for (var i = 0; i < count; i++)
            h = layers[i].forward(h);
        return h.alias().MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x) => forward(x, layers.Count);
}
