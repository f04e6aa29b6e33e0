using Distill.Models.Torch;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>A teacher replica: <c>samples/v1</c> -> <c>teacher/v2</c>. One forward pass per batch, then the
/// top-K log-probs (temperature 1, descending) and the log tail mass at each predicting position of the scope.
/// With <see cref="ResponseGeneration"/> set, the teacher first answers the prompt-only rows (every row with
/// <see cref="ResponseGeneration.EveryRow"/>) greedily and the batch carries that response (<see cref="TeacherResponses"/>),
/// with the log-probs on it; without it, a prompt-only row is an error.</summary>
public sealed class TeacherInference : ITeacherStep, IArrowCodecTimed
{
    private readonly ArrowCodecClock _codec = new();
    private readonly VisionLanguageModel _model;
    private readonly TeacherBatchMeta _meta;
    private readonly ImageFormat _imageFormat;
    private readonly int _padId;
    private readonly TokenScope _scope;
    private readonly ResponseGeneration? _generation;
    private readonly TeacherEncoding _encoding;

    public TeacherInference(string checkpointDir, string fingerprint, string tokenizerHash, int topK, TokenScope scope, ImageFormat imageFormat, int padId,
        Placement? placement = null, ResponseGeneration? generation = null, TeacherEncoding? encoding = null)
    {
        _encoding = encoding ?? TeacherEncoding.Default;
        _model = Checkpoint.Load(checkpointDir, placement);
        _model.eval();
        if (topK <= 0 || topK > _model.Config.Text.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(topK), topK, $"top-k must be in 1..{_model.Config.Text.VocabSize}");
        _meta = new TeacherBatchMeta(fingerprint, topK, _model.Config.Text.VocabSize, tokenizerHash, scope.Name());
        _imageFormat = imageFormat;
        _padId = padId;
        _scope = scope;
        _generation = generation;
    }

    public TeacherBatchMeta Meta => _meta;

    /// <summary>Time spent reading samples/v1 and writing teacher/v2.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public byte[] Infer(byte[] samplesV1)
    {
        var rows = _codec.Decoding(() => SamplesV1.Read(samplesV1));
        if (_generation is { } g) rows = TeacherResponses.Generate(_model, rows, _imageFormat, g, _padId);
        else if (rows.FirstOrDefault(r => r.IsPromptOnly) is { } unanswered)
            throw new InvalidDataException($"sample '{unanswered.SampleId}' has no response and this teacher step generates none: a prompt-only row needs teacher generation");
        if (rows.Count == 0) return _codec.Encoding(() => TeacherV2.Write(Array.Empty<TeacherRow>(), _meta, _imageFormat.Bytes, _encoding));
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        using var batch = TrainingBatch.Collate(rows, _imageFormat, _padId, _scope);
        var logits = CausalLmLoss.AtPositions(_model.Forward(batch.Pixels, batch.InputIds), batch); // [N, V]
        var (ids, logprobs, tail) = TeacherTargets.FromLogits(logits, _meta.TopK);
        var flatIds = ids.to_type(ScalarType.Int32).data<int>().ToArray();          // [N*K]
        var flatLogprobs = logprobs.to_type(ScalarType.Float32).data<float>().ToArray();
        var flatTail = tail.to_type(ScalarType.Float32).data<float>().ToArray();   // [N]

        int k = _meta.TopK;
        var output = new List<TeacherRow>(rows.Count);
        int offset = 0; // in positions
        foreach (var row in rows)
        {
            int n = PredictingPositions.Of(row.LabelsMask, _scope).Length;
            output.Add(new TeacherRow(
                row,
                flatIds.AsSpan(offset * k, n * k).ToArray(),
                flatLogprobs.AsSpan(offset * k, n * k).ToArray(),
                flatTail.AsSpan(offset, n).ToArray()));
            offset += n;
        }
        return _codec.Encoding(() => TeacherV2.Write(output, _meta, _imageFormat.Bytes, _encoding));
    }

    public void Dispose() => _model.Dispose();
}
