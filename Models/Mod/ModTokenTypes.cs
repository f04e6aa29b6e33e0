using Distill.Models.Torch;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Mod;

/// <summary>How a MoD layer treats each position: a [B,T] int64 tensor of these values (DESIGN 5.4).
/// <see cref="Text"/>: always processed (question and response tokens, padding). <see cref="Competing"/>: image (and,
/// if the caller says so, system) tokens, which compete for the layer: in training the top (1 - skip ratio) of a
/// row's competing tokens by p are processed, in eval those with p &gt; prefill threshold. <see cref="Generated"/>:
/// a token produced by cached decoding; in eval it is processed when p &gt;= decode threshold, in training always
/// (a full forward with these types reproduces what cached decoding computed).</summary>
public static class ModTokenTypes
{
    public const long Text = 0;
    public const long Competing = 1;
    public const long Generated = 2;

    /// <summary>inputIds [B,T] -> types [B,T] int64: image tokens compete, everything else is text.</summary>
    public static Tensor FromInputIds(Tensor inputIds, int imageTokenId)
    {
        using var scope = torch.NewDisposeScope();
        return inputIds.eq(Scalars.Of(imageTokenId)).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>competing [B,T] bool (true = competes, e.g. image and system tokens) -> types [B,T] int64.</summary>
    public static Tensor FromCompetingMask(Tensor competing)
    {
        using var scope = torch.NewDisposeScope();
        return competing.ne(Scalars.Zero).to_type(ScalarType.Int64).MoveToOuterDisposeScope();
    }

    /// <summary>A caller's token types: a bool mask (true = competes) becomes types; an integer tensor is taken as
    /// types (values checked). -> [B,T] int64 in the caller's scope.</summary>
    public static Tensor From(Tensor typesOrCompetingMask)
    {
        if (typesOrCompetingMask.dtype == ScalarType.Bool) return FromCompetingMask(typesOrCompetingMask);
        using var scope = torch.NewDisposeScope();
        var types = typesOrCompetingMask.to_type(ScalarType.Int64);
        if (types.numel() > 0 && (types.min().item<long>() < Text || types.max().item<long>() > Generated))
            throw new ArgumentException($"MoD token types must be {Text} (text), {Competing} (competing) or {Generated} (generated).");
        return types.MoveToOuterDisposeScope();
    }
}
