using Distill.Models.Torch;
using Distill.Models;
using Distill.Stages.Arrow;
using Distill.Stages.Distillation;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Students;

/// <summary>The supervised objective: next-token cross-entropy on the response tokens, plus
/// <c>auxWeight * aux</c> when the model has MoE layers (the load-balancing loss is part of training an MoE, not a
/// distillation signal, so the SFT-only student gets it too). Also the projector warm-up loss (on captions).</summary>
public static class SftLoss
{
    /// <summary>Scalar loss of one batch (forward included).</summary>
    public static Tensor Compute(Student student, IReadOnlyList<SampleRow> rows, ImageFormat imageFormat, int padId, double auxWeight)
    {
        using var scope = NewDisposeScope();
        using var batch = TrainingBatch.Collate(rows, imageFormat, padId, TokenScope.Response);
        var logits = CausalLmLoss.AtPositions(student.Logits(batch, rows), batch);          // [N,V]
        var loss = CausalLmLoss.ResponseCrossEntropy(logits, batch);
        if (student.MoeAuxLoss() is { } aux && auxWeight > 0) loss = loss.add(aux.mul(Scalars.Of(auxWeight)), Scalars.One);
        return loss.MoveToOuterDisposeScope();
    }

    /// <summary>Mean response-token cross-entropy of <paramref name="student"/> over <paramref name="rows"/> (no grad).</summary>
    public static double HeldOut(Student student, IReadOnlyList<SampleRow> rows, ImageFormat imageFormat, int padId, int batchSize)
    {
        using var noGrad = no_grad();
        double total = 0;
        long positions = 0;
        foreach (var chunk in rows.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = TrainingBatch.Collate(chunk, imageFormat, padId, TokenScope.Response);
            var logits = CausalLmLoss.AtPositions(student.Logits(batch, chunk), batch);
            total += CausalLmLoss.ResponseCrossEntropy(logits, batch).item<float>() * batch.Positions;
            positions += batch.Positions;
        }
        return positions == 0 ? double.NaN : total / positions;
    }
}
