using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary><c>vision_tower</c>: HF's <c>CLIPVisionModel</c> / <c>SiglipVisionModel</c>, the wrapper that holds
/// <c>vision_model</c> (a <see cref="ClipVisionTransformer"/> or <see cref="SiglipVisionTransformer"/>, by
/// <see cref="VisionConfig.ModelType"/>).</summary>
public sealed class VisionTower : nn.Module<Tensor, Tensor>
{
    private readonly nn.Module<Tensor, Tensor> vision_model;

    public VisionTower(VisionConfig config, Placement? placement = null) : base(nameof(VisionTower))
    {
        vision_model = config.ModelType switch
        {
            VisionConfig.Clip => new ClipVisionTransformer(config, placement),
            VisionConfig.Siglip => new SiglipVisionTransformer(config, placement),
            _ => throw new ArgumentException(
                $"vision model_type '{config.ModelType}' is not supported; supported: {VisionConfig.Clip}, {VisionConfig.Siglip}"),
        };
        RegisterComponents();
    }

    public IVisionTransformer VisionModel => (IVisionTransformer)vision_model;

    /// <summary>pixels [B,3,S,S] -> <c>hidden_states[index]</c> (see <see cref="IVisionTransformer.HiddenState"/>).</summary>
    public Tensor HiddenState(Tensor pixels, int index) => VisionModel.HiddenState(pixels, index);

    /// <summary>pixels [B,3,S,S] -> the last hidden state.</summary>
    public override Tensor forward(Tensor pixels) => vision_model.forward(pixels);
}
