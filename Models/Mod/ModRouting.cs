using Distill.Models.Torch;
using Distill.Models.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Models.Mod;

/// <summary>Routing statistics of one MoD layer forward, per row: tokens processed (all kinds, padding included),
/// competing tokens, and competing tokens processed.</summary>
public sealed record ModRouting(long[] Processed, long[] Competing, long[] CompetingProcessed)
{
    public override string ToString() =>
        $"ModRouting {{ Processed = [{string.Join(",", Processed)}], Competing = [{string.Join(",", Competing)}], CompetingProcessed = [{string.Join(",", CompetingProcessed)}] }}";
}

/// <summary>The routing decisions and loss of gamma-MoD (DESIGN 5.4), as functions of p = P(process).</summary>
public static class ModSelection
{
    /// <summary>Which tokens a MoD layer processes, [B,T] bool. p [B,T]; types [B,T] int64 (<see cref="ModTokenTypes"/>);
    /// real [B,T] bool (false on padding, which is processed like text and never competes).
    /// Training: of each row's n competing tokens the top k = ceil((1 - skip ratio) * n) by p; generated tokens always.
    /// Eval: competing tokens with p &gt; prefill threshold, generated tokens with p &gt;= decode threshold.
    /// Text tokens and padding always.</summary>
    public static Tensor Processed(Tensor p, Tensor types, Tensor real, ModConfig config, bool training)
    {
        using var scope = torch.NewDisposeScope();
        var competing = types.eq(Scalars.Of(ModTokenTypes.Competing)).logical_and(real);               // [B,T]
        var generated = types.eq(Scalars.Of(ModTokenTypes.Generated)).logical_and(real);               // [B,T]
        Tensor keptCompeting, keptGenerated;
        if (training)
        {
            keptCompeting = TopKPerRow(p, competing, 1.0 - config.SkipRatio);
            keptGenerated = generated;
        }
        else
        {
            keptCompeting = competing.logical_and(p.gt(Scalars.Of(config.PrefillThreshold)));
            keptGenerated = generated.logical_and(p.ge(Scalars.Of(config.DecodeThreshold)));
        }
        var always = competing.logical_or(generated).logical_not();                        // text and padding
        return always.logical_or(keptCompeting).logical_or(keptGenerated).MoveToOuterDisposeScope();
    }

    /// <summary>Of each row's candidates (mask [B,T] bool), the top ceil(fraction * n_row) by score [B,T] -> [B,T] bool.
    /// A product that is whole up to float rounding is not rounded up (0.7 * 10 keeps 7), as in
    /// <see cref="Accounting.FlopAccounting.ModProcessedImageTokens"/>.</summary>
    public static Tensor TopKPerRow(Tensor score, Tensor candidates, double fraction)
    {
        if (fraction is < 0 or > 1 || double.IsNaN(fraction))
            throw new ArgumentException($"MoD keep fraction {fraction} is outside [0, 1].");
        using var scope = torch.NewDisposeScope();
        var ranked = score.detach().to_type(ScalarType.Float32).masked_fill(candidates.logical_not(), Scalars.Of(double.NegativeInfinity));
        var rank = ranked.argsort(1, descending: true).argsort(1);                        // [B,T]: 0 = best of the row
        var n = candidates.sum(1, type: ScalarType.Float64);                               // [B]
        var k = (n * Scalars.Of(fraction)).sub(Scalars.Of(1e-9)).ceil().clamp_min(Scalars.Zero).to_type(ScalarType.Int64); // [B]
        return candidates.logical_and(rank.lt(k.unsqueeze(1))).MoveToOuterDisposeScope();
    }

    /// <summary>Routing loss: mean over competing tokens (competing [B,T] bool) of the 2-class cross-entropy of the
    /// router logits [B,T,2] against top-k membership (processed [B,T] bool; class 1 = processed). Scalar float32;
    /// 0 when nothing competes.</summary>
    public static Tensor RoutingLoss(Tensor logits, Tensor competing, Tensor processed)
    {
        using var scope = torch.NewDisposeScope();
        var target = processed.to_type(ScalarType.Int64).unsqueeze(-1);                    // [B,T,1]
        var nll = -logits.to_type(ScalarType.Float32).log_softmax(-1).gather(-1, target).squeeze(-1); // [B,T]
        var weight = competing.to_type(ScalarType.Float32);                                 // [B,T]
        var loss = (nll * weight).sum() / weight.sum().clamp_min(Scalars.One);
        return loss.MoveToOuterDisposeScope();
    }
}
