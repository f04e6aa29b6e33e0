using Distill.Stages.Flow;

namespace Distill.Stages.Training;

/// <summary>The first epoch of a student that trains while its batches stream in: a held-out shard's rows are kept
/// for measurement only; a training shard's rows are kept for the later (replayed) epochs and trained on now, in
/// batches of <c>batchSize</c>. The report's loss is the mean of the batch losses (NaN when nothing was trained).</summary>
public static class StreamedShard
{
    public static StepReport Consume<TRow>(int shardId, IReadOnlyList<TRow> rows, bool heldOut, List<TRow> heldOutRows,
        List<TRow> trainRows, int batchSize, Func<TRow[], double> trainStep)
    {
        if (heldOut)
        {
            heldOutRows.AddRange(rows);
            return new StepReport(shardId, rows.Count, double.NaN);
        }
        trainRows.AddRange(rows);
        double sum = 0;
        int batches = 0;
        foreach (var chunk in rows.Chunk(batchSize))
        {
            sum += trainStep(chunk);
            batches++;
        }
        return new StepReport(shardId, rows.Count, batches == 0 ? double.NaN : sum / batches);
    }
}
