using Distill.Stages.Arrow;
using Distill.Stages.Distillation;

namespace Distill.Pipeline.Bench;

/// <summary>A real <c>teacher/v2</c> batch of the configured size without a teacher: the given sample rows (their
/// image hashes, tokens, masks as the pipeline encodes them) with, at each predicting position of the scope, K ids and descending
/// log-probs and a tail log-prob. Same size and layout as a teacher's batch; the numbers mean nothing.</summary>
public static class SyntheticTeacherBatch
{
    public static byte[] Create(IReadOnlyList<SampleRow> rows, TeacherBatchMeta meta, TokenScope scope, int imageBytes, TeacherEncoding encoding)
    {
        ArgumentNullException.ThrowIfNull(rows);
        ArgumentNullException.ThrowIfNull(meta);
        int k = meta.TopK;
        var teacherRows = rows.Select(row =>
        {
            int positions = PredictingPositions.Of(row.LabelsMask, scope).Length;
            var ids = new int[positions * k];
            var logprobs = new float[positions * k];
            for (int p = 0; p < positions; p++)
            for (int j = 0; j < k; j++)
            {
                ids[p * k + j] = (p + j) % meta.VocabSize;
                logprobs[p * k + j] = -0.5f * (j + 1);
            }
            var tail = Enumerable.Repeat(-6f, positions).ToArray();
            return new TeacherRow(row, ids, logprobs, tail);
        }).ToList();
        return TeacherV2.Write(teacherRows, meta, imageBytes, encoding);
    }
}
