using Distill.Models.Torch;
using Distill.Models;
using Distill.Models.Config;
using Distill.Stages.Workspace;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Students;
using Distill.Stages.Text;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>Stage <c>mimic</c>, student side (LLaVA-MoD mimic distillation with LLAVADI's response-token logit
/// alignment, DESIGN 5.2). While the teacher workers stream <c>teacher/v1</c> batches in, every batch is decoded and
/// kept in memory (the teacher runs once); then <see cref="Complete"/> runs the <see cref="StudentSchedule"/>:
/// optional projector warm-up on captions, D2D (the dense student distilled; written to the dense checkpoint),
/// sparse upcycling to MoE and D2S (distilled again with the MoE aux loss; written to the MoE checkpoint), every
/// epoch of D2D and D2S replaying the kept batches in a seeded shuffle. Held-out shards are never trained on: the
/// forward KL (T = 1, whatever the training divergence) and the response cross-entropy on them are measured before
/// each phase and after every epoch. The training state is saved after every epoch; a stage started again on the same
/// run directory continues after the last saved epoch (see <see cref="StudentCurriculum"/>).</summary>
public sealed class MimicStudent : IStudentStep, IArrowCodecTimed
{
    public const string DensePhase = "d2d", MoePhase = "d2s";

    private readonly string _stage;
    private readonly VlmConfig _config;
    private readonly MimicOptions _options;
    private readonly Func<int, bool> _isHeldOut;
    private readonly string _teacherCheckpoint;
    private readonly StudentInit? _init;
    private readonly IReadOnlyList<SampleRow> _captions;
    private readonly string _denseDir;
    private readonly string _moeDir;
    private readonly ImageFormat _imageFormat;
    private readonly PreparedData _data;
    private readonly Placement? _placement;
    private readonly SortedDictionary<int, IReadOnlyList<TeacherRow>> _train = new();
    private readonly SortedDictionary<int, IReadOnlyList<TeacherRow>> _heldOut = new();
    private readonly TrainingStateStore? _states;
    private readonly ArrowCodecClock _codec = new();
    private TeacherBatchMeta? _meta;

    /// <param name="studentConfig">The dense student (the schedule upcycles it).</param>
    /// <param name="captions">Caption samples of the training split, for the projector warm-up (may be empty when
    /// the schedule has no warm-up).</param>
    /// <param name="denseDir">Checkpoint directory of the D2D student (<c>checkpoints/student-dense</c>).</param>
    /// <param name="moeDir">Checkpoint directory of the D2S student (<c>checkpoints/student-moe</c>).</param>
    /// <param name="states">the stage's mid-stage training state (saved every epoch, resumed from); null = none.</param>
    public MimicStudent(string stage, VlmConfig studentConfig, MimicOptions options, string teacherCheckpoint,
        Func<int, bool> isHeldOut, IReadOnlyList<SampleRow> captions, string denseDir, string moeDir, ImageFormat imageFormat,
        PreparedData data, Placement? placement = null, TrainingStateStore? states = null, StudentInit? init = null)
    {
        _init = init;
        options.Schedule.Validate();
        _stage = stage;
        _config = studentConfig;
        _options = options;
        _isHeldOut = isHeldOut;
        _teacherCheckpoint = teacherCheckpoint;
        _captions = captions;
        _denseDir = denseDir;
        _moeDir = moeDir;
        _imageFormat = imageFormat;
        _data = data;
        _placement = placement;
        _states = states;
    }

    /// <summary>Time spent decoding teacher/v1 batches.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public StepReport Consume(int shardId, byte[] teacherV1)
    {
        var (rows, meta) = _codec.Decoding(() => TeacherV1.Read(teacherV1));
        CheckMeta(shardId, meta);
        var kept = _isHeldOut(shardId) ? _heldOut : _train;
        if (!kept.TryAdd(shardId, rows)) throw new InvalidOperationException($"{_stage}: shard {shardId} was consumed twice");
        return new StepReport(shardId, rows.Count, double.NaN);
    }

    private void CheckMeta(int shardId, TeacherBatchMeta meta)
    {
        if (meta.VocabSize != _config.Text.VocabSize)
            throw new InvalidDataException($"shard {shardId}: teacher vocab size {meta.VocabSize} differs from the student's {_config.Text.VocabSize}");
        if (meta.Scope != _options.Scope.Name())
            throw new InvalidDataException($"shard {shardId}: teacher batch scope '{meta.Scope}' differs from distill.mimic.scope '{_options.Scope.Name()}'");
        if (_meta is not null && (_meta.TeacherFingerprint != meta.TeacherFingerprint || _meta.TokenizerHash != meta.TokenizerHash || _meta.TopK != meta.TopK))
            throw new InvalidDataException($"shard {shardId}: comes from another teacher, tokenizer or top-K than the earlier shards");
        _meta ??= meta;
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation)
    {
        // Shard order (= the order of the training split), so the run does not depend on arrival order.
        var train = _train.Values.SelectMany(r => r).ToList();
        var heldOut = _heldOut.Values.SelectMany(r => r).ToList();
        if (train.Count == 0) throw new InvalidOperationException($"{_stage}: no training shard was consumed");
        var objective = new StudentObjective<TeacherRow>(Loss, heldOut.Count == 0 ? null : student => HeldOut(student, heldOut));
        var curriculum = new StudentCurriculum(_stage, _config, _options.Schedule, _options.Train, _teacherCheckpoint, _placement, _states, _init);
        var figures = curriculum.Run(train, objective, (DensePhase, MoePhase), _captions, _imageFormat, _data.PadId,
            (student, phase) => ModelFiles.Save(student, _data, phase == DensePhase ? _denseDir : _moeDir),
            progress, cancellation);
        figures["train_samples"] = train.Count;
        figures["heldout_samples"] = heldOut.Count;
        return new StageOutcome(_options.Schedule.UpcyclesToMoe ? _moeDir : _denseDir, figures);
    }

    private Tensor Loss(Student student, IReadOnlyList<TeacherRow> rows)
    {
        using var scope = NewDisposeScope();
        var samples = rows.Select(r => r.Sample).ToList();
        using var batch = TrainingBatch.Collate(samples, _imageFormat, _data.PadId, _options.Scope);
        using var teacher = TeacherTargetTensors.Stack(rows, _meta!.TopK);
        var logits = CausalLmLoss.AtPositions(student.Logits(batch, samples), batch);        // [N,V]
        return MimicLoss.Compute(logits, batch, teacher, _options, student.MoeAuxLoss()).Total.MoveToOuterDisposeScope();
    }

    /// <summary>Mean forward KL (T = 1) per held-out predicting position and mean response cross-entropy.</summary>
    private IReadOnlyList<(string, double)> HeldOut(Student student, IReadOnlyList<TeacherRow> rows)
    {
        using var noGrad = no_grad();
        double kl = 0, ce = 0;
        long positions = 0, responses = 0;
        foreach (var chunk in rows.Chunk(_options.Train.BatchSize))
        {
            using var scope = NewDisposeScope();
            var samples = chunk.Select(r => r.Sample).ToList();
            using var batch = TrainingBatch.Collate(samples, _imageFormat, _data.PadId, _options.Scope);
            using var teacher = TeacherTargetTensors.Stack(chunk, _meta!.TopK);
            var logits = CausalLmLoss.AtPositions(student.Logits(batch, samples), batch);
            kl += KdObjective.ForwardKl.PerPosition(logits, teacher.Ids, teacher.Logprobs, teacher.Tail).sum().item<float>();
            positions += batch.Positions;
            long n = batch.ResponseMask.sum().item<long>();
            ce += CausalLmLoss.ResponseCrossEntropy(logits, batch).item<float>() * n;
            responses += n;
        }
        return [("heldout_kl", positions == 0 ? double.NaN : kl / positions), ("heldout_ce", responses == 0 ? double.NaN : ce / responses)];
    }

    public void Dispose() { }
}
