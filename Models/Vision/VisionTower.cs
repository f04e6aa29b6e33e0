using TorchSharp;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary><c>vision_tower</c>: the wrapper that holds <c>vision_model</c> (as HF's CLIPVisionModel).</summary>
public sealed class VisionTower : nn.Module<Tensor, Tensor>
{
    private readonly VisionTransformer vision_model;

    public VisionTower(VisionConfig config) : base(nameof(VisionTower))
    {
        vision_model = new VisionTransformer(config);
        RegisterComponents();
    }

    public VisionTransformer VisionModel => vision_model;

    /// <summary>pixels [B,3,S,S] -> patch features [B,N,Dv].</summary>
    public override Tensor forward(Tensor pixels) => vision_model.forward(pixels);
}
