using Distill.Models;
using Distill.Stages.Arrow;
using Distill.Stages.Distillation;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>A collated batch of samples: right-padded ids (right padding needs no attention mask under a causal
/// mask), next-token targets, and the flat row-major indices of the predicting positions of the chosen scope.</summary>
public sealed class TrainingBatch : IDisposable
{
    public Tensor Pixels { get; }        // [B, 3, S, S]
    public Tensor InputIds { get; }      // [B, T] int64
    public Tensor Targets { get; }       // [B*T] int64, next token (pad where none)
    public Tensor PositionIndex { get; } // [N] int64, flat indices b*T + t of predicting positions
    public Tensor ResponseMask { get; }  // [N] bool, true where the position predicts a response token (labels_mask[t+1])
    public int Rows { get; }
    public int Positions { get; }

    private TrainingBatch(Tensor pixels, Tensor inputIds, Tensor targets, Tensor positionIndex, Tensor responseMask, int rows, int positions)
    {
        Pixels = pixels; InputIds = inputIds; Targets = targets; PositionIndex = positionIndex; ResponseMask = responseMask;
        Rows = rows; Positions = positions;
    }

    public static TrainingBatch Collate(IReadOnlyList<SampleRow> rows, ImageFormat imageFormat, int padId, TokenScope scope)
    {
        if (rows.Count == 0) throw new ArgumentException("cannot collate an empty batch", nameof(rows));
        int b = rows.Count;
        int t = rows.Max(r => r.InputIds.Length);
        var ids = new long[b * t];
        var next = new long[b * t];
        var index = new List<long>();
        var response = new List<bool>();
        Array.Fill(ids, padId);
        Array.Fill(next, padId);
        for (int i = 0; i < b; i++)
        {
            var row = rows[i];
            if (row.LabelsMask.Length != row.InputIds.Length)
                throw new InvalidDataException($"sample {row.SampleId}: labels_mask has {row.LabelsMask.Length} entries for {row.InputIds.Length} input ids");
            for (int j = 0; j < row.InputIds.Length; j++)
            {
                ids[i * t + j] = row.InputIds[j];
                if (j + 1 < row.InputIds.Length) next[i * t + j] = row.InputIds[j + 1];
            }
            foreach (int p in PredictingPositions.Of(row.LabelsMask, scope))
            {
                index.Add(i * t + p);
                response.Add(row.LabelsMask[p + 1]);
            }
        }
        var pixels = ImageTensors.FromRgb(rows.Select(r => r.Image).ToList(), imageFormat);
        return new TrainingBatch(pixels, tensor(ids).reshape(b, t), tensor(next), tensor(index.ToArray()), tensor(response.ToArray()), b, index.Count);
    }

    public void Dispose()
    {
        Pixels.Dispose(); InputIds.Dispose(); Targets.Dispose(); PositionIndex.Dispose(); ResponseMask.Dispose();
    }
}
