namespace Distill.Stages.Distillation;

/// <summary>The positions t whose logits are distilled: logits at t predict token t+1, so for the
/// <see cref="TokenScope.Response"/> scope these are the t with labels_mask[t+1] true; for
/// <see cref="TokenScope.All"/>, every t in [0, T-1). Teacher and student must use this one definition, so the
/// i-th cached top-K row lines up with the i-th student position.</summary>
public static class PredictingPositions
{
    public static int[] Of(bool[] labelsMask, TokenScope scope)
    {
        var positions = new List<int>(labelsMask.Length);
        for (int t = 0; t + 1 < labelsMask.Length; t++)
            if (scope == TokenScope.All || labelsMask[t + 1]) positions.Add(t);
        return positions.ToArray();
    }
}
