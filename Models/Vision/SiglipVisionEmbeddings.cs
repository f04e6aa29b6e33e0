using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>HF <c>SiglipVisionEmbeddings</c>: the patches of a stride-P convolution with a bias, plus a learned
/// position per patch; no class token.</summary>
public sealed class SiglipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d patch_embedding;
    private readonly Embedding position_embedding;
    private readonly int _patches;

    public SiglipVisionEmbeddings(VisionConfig config, Placement? placement = null) : base(nameof(SiglipVisionEmbeddings))
    {
        _patches = config.NumPatches;
        patch_embedding = nn.Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, device: placement?.Device, dtype: placement?.DType);
        position_embedding = placement.Embedding(_patches, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>pixels [B,3,S,S] -> [B,N,Dv].</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var patches = patch_embedding.forward(pixels.to_type(patch_embedding.weight!.dtype)); // [B,Dv,S/P,S/P]
        var tokens = patches.flatten(2).transpose(1, 2);                                      // [B,N,Dv]
        if (tokens.shape[1] != _patches)
            throw new ArgumentException($"images give {tokens.shape[1]} patches, the config expects {_patches}.");
        var positions = position_embedding.forward(Scalars.Arange(_patches, pixels.device));  // [N,Dv]
        return tokens.add(positions, Scalars.One).MoveToOuterDisposeScope();
    }
}
