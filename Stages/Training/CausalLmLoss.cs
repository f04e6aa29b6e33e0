using Distill.Stages.Losses;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>Shared forward pieces: the student/teacher logits at the batch's predicting positions.</summary>
public static class CausalLmLoss
{
    /// <summary>logits [B, T, V] -> [N, V] at the batch's predicting positions (row-major order).</summary>
    public static Tensor AtPositions(Tensor logits, TrainingBatch batch)
    {
        long vocab = logits.shape[2];
        using var index = batch.PositionIndex.to(logits.device);
        return logits.reshape(-1, vocab).index_select(0, index); // [N, V]
    }

    /// <summary>Mean next-token cross-entropy over the predicting positions.</summary>
    public static Tensor CrossEntropy(Tensor logitsAtPositions, TrainingBatch batch)
    {
        using var targets = batch.Targets.index_select(0, batch.PositionIndex).to(logitsAtPositions.device); // [N]
        return nn.functional.cross_entropy(logitsAtPositions, targets);
    }

    /// <summary>Mean next-token cross-entropy over the predicting positions that predict a response token (all of
    /// them in the <c>response</c> scope; in the <c>all</c> scope the prompt positions are left out).</summary>
    public static Tensor ResponseCrossEntropy(Tensor logitsAtPositions, TrainingBatch batch)
    {
        using var scope = NewDisposeScope();
        var targets = batch.Targets.index_select(0, batch.PositionIndex);                  // [N]
        return TokenLoss.MaskedCrossEntropy(logitsAtPositions, targets, batch.ResponseMask).MoveToOuterDisposeScope();
    }
}
