using TorchSharp;
using TorchSharp.Modules;
using Distill.Models.Config;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>Patch embedding (a stride-P convolution, no bias) plus a learned position embedding per patch.
/// No class token: the LM only ever consumes patch tokens.</summary>
public sealed class VisionEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Conv2d patch_embedding;
    private readonly Embedding position_embedding;
    private readonly int _numPatches;

    public VisionEmbeddings(VisionConfig config) : base(nameof(VisionEmbeddings))
    {
        if (config.ImageSize % config.PatchSize != 0)
            throw new ArgumentException($"image size {config.ImageSize} is not a multiple of patch size {config.PatchSize}.");
        _numPatches = config.NumPatches;
        patch_embedding = nn.Conv2d(3, config.HiddenSize, config.PatchSize, stride: config.PatchSize, bias: false);
        position_embedding = nn.Embedding(config.NumPatches, config.HiddenSize);
        RegisterComponents();
    }

    /// <summary>pixels [B,3,S,S] -> [B,N,Dv].</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var patches = patch_embedding.forward(pixels.to_type(patch_embedding.weight!.dtype)); // [B,Dv,S/P,S/P]
        var tokens = patches.flatten(2).transpose(1, 2);                                      // [B,N,Dv]
        if (tokens.shape[1] != _numPatches)
            throw new ArgumentException($"images give {tokens.shape[1]} patches, the config expects {_numPatches}.");
        var positions = Scalars.Arange(_numPatches, pixels.device);
        return tokens.add(position_embedding.forward(positions), Scalars.One).MoveToOuterDisposeScope();    // [B,N,Dv]
    }
}
