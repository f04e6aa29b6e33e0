using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Distill.Models.Vision;

/// <summary>HF <c>CLIPVisionEmbeddings</c>: the class token <c>class_embedding</c> [Dv] before the patches of a
/// stride-P convolution without bias, plus a learned position per row (<c>position_embedding</c>, N+1 rows).</summary>
public sealed class ClipVisionEmbeddings : nn.Module<Tensor, Tensor>
{
    private readonly Parameter class_embedding;
    private readonly Conv2d patch_embedding;
    private readonly Embedding position_embedding;
    private readonly int _positions;

    public ClipVisionEmbeddings(VisionConfig config, Placement? placement = null) : base(nameof(ClipVisionEmbeddings))
    {
        _positions = config.NumPositions;
        class_embedding = new Parameter((placement ?? Placement.Cpu).Empty(config.HiddenSize));
        using (torch.no_grad()) nn.init.normal_(class_embedding, 0.0, Math.Pow(config.HiddenSize, -0.5)); // as HF initialises it
        patch_embedding = nn.Conv2d(config.NumChannels, config.HiddenSize, config.PatchSize, stride: config.PatchSize, bias: false, device: placement?.Device, dtype: placement?.DType);
        position_embedding = placement.Embedding(_positions, config.HiddenSize);
        RegisterComponents();
    }

    public Parameter ClassEmbedding => class_embedding;

    /// <summary>pixels [B,3,S,S] -> [B,N+1,Dv] (row 0: the class token).</summary>
    public override Tensor forward(Tensor pixels)
    {
        using var scope = torch.NewDisposeScope();
        var patches = patch_embedding.forward(pixels.to_type(patch_embedding.weight!.dtype)); // [B,Dv,S/P,S/P]
        var tokens = patches.flatten(2).transpose(1, 2);                                      // [B,N,Dv]
        if (tokens.shape[1] + 1 != _positions)
            throw new ArgumentException($"images give {tokens.shape[1]} patches, the config expects {_positions - 1}.");
        var classToken = class_embedding.expand(tokens.shape[0], 1, -1);                      // [B,1,Dv]
        var rows = torch.cat([classToken, tokens], 1);                                         // [B,N+1,Dv]
        var positions = position_embedding.forward(Scalars.Arange(_positions, pixels.device)); // [N+1,Dv]
        return rows.add(positions, Scalars.One).MoveToOuterDisposeScope();
    }
}
