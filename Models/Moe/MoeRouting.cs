namespace Distill.Models.Moe;

/// <summary>Routing statistics of one <see cref="MoeMlp"/> forward.
/// <paramref name="Tokens"/>: tokens routed (B*T, padding included); <paramref name="Capacity"/>: C per expert;
/// <paramref name="Assigned"/>[e]: top-k assignments to expert e before the capacity cut;
/// <paramref name="Kept"/>[e]: assignments expert e processed (min(Assigned[e], C));
/// <paramref name="Dropped"/>: assignments cut by capacity, over all experts.</summary>
public sealed record MoeRouting(long Tokens, int Capacity, long[] Assigned, long[] Kept, long Dropped)
{
    public override string ToString() =>
        $"MoeRouting {{ Tokens = {Tokens}, Capacity = {Capacity}, Assigned = [{string.Join(",", Assigned)}], Kept = [{string.Join(",", Kept)}], Dropped = {Dropped} }}";
}
