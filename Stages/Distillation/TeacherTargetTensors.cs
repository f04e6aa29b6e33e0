using Distill.Stages.Arrow;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>The cached teacher targets of a list of rows, stacked in row-major position order.</summary>
public sealed class TeacherTargetTensors : IDisposable
{
    public Tensor Ids { get; }       // [N, K] int64
    public Tensor Logprobs { get; }  // [N, K] float32
    public Tensor Tail { get; }      // [N] float32

    private TeacherTargetTensors(Tensor ids, Tensor logprobs, Tensor tail) { Ids = ids; Logprobs = logprobs; Tail = tail; }

    public static TeacherTargetTensors Stack(IReadOnlyList<TeacherRow> rows, int topK)
    {
        int n = rows.Sum(r => r.Positions);
        var ids = new long[n * topK];
        var logprobs = new float[n * topK];
        var tail = new float[n];
        int p = 0;
        foreach (var row in rows)
        {
            for (int i = 0; i < row.TopkIds.Length; i++)
            {
                ids[p * topK + i] = row.TopkIds[i];
                logprobs[p * topK + i] = row.TopkLogprobs[i];
            }
            Array.Copy(row.TailLogprob, 0, tail, p, row.Positions);
            p += row.Positions;
        }
        return new TeacherTargetTensors(tensor(ids).reshape(n, topK), tensor(logprobs).reshape(n, topK), tensor(tail));
    }

    public void Dispose() { Ids.Dispose(); Logprobs.Dispose(); Tail.Dispose(); }
}
