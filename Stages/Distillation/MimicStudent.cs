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
/// alignment, DESIGN 5.2), running the <see cref="StudentSchedule"/>: optional projector warm-up on captions, D2D (the
/// dense student distilled; written to the dense checkpoint), sparse upcycling to MoE and D2S (distilled again with
/// the MoE aux loss; written to the MoE checkpoint). The student is created (and warmed up) at the first training
/// shard, and D2D's first epoch trains while the teacher workers stream the <c>teacher/v2</c> batches in, in arrival
/// order (<c>distill.cache.strict-order = on</c> makes that the shard order); every training batch is kept on disk as
/// it came (<see cref="KeptShards"/>), so the teacher runs once and every later epoch of D2D and D2S reads the kept
/// batches back a window of shards at a time (<see cref="ShardWindowRows{T}"/>, a seeded block shuffle): the
/// stage's memory is bounded by the window, not by the data. Held-out batches stay in memory (the validation split). Held-out shards are never trained on: the forward KL (T = 1, whatever the training divergence) and the
/// response cross-entropy on them are measured before each phase (for the streamed epoch, on a copy of the student as
/// it was before it) and after every epoch. The training state is saved after every epoch; a stage started again on
/// the same run directory only collects the batches and continues after the last saved epoch (see
/// <see cref="StudentCurriculum"/>).</summary>
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
    private readonly ISampleImages _images;
    private readonly Placement? _placement;
    private readonly KeptShards _kept;
    private readonly SortedDictionary<int, IReadOnlyList<TeacherRow>> _heldOut = new();
    private readonly TrainingStateStore? _states;
    private readonly ArrowCodecClock _codec = new();
    private readonly int _trainSamples;
    private readonly RelayProgress _progress;
    private readonly CancellationToken _streamCancellation;
    private StudentCurriculum.Session<TeacherRow>? _session;
    private TeacherBatchMeta? _meta;

    /// <param name="studentConfig">The dense student (the schedule upcycles it).</param>
    /// <param name="captions">Caption samples of the training split, for the projector warm-up (may be empty when
    /// the schedule has no warm-up).</param>
    /// <param name="denseDir">Checkpoint directory of the D2D student (<c>checkpoints/student-dense</c>).</param>
    /// <param name="moeDir">Checkpoint directory of the D2S student (<c>checkpoints/student-moe</c>).</param>
    /// <param name="trainSamples">The training rows that will stream in (the streamed epoch's schedule is laid out for them).</param>
    /// <param name="states">the stage's mid-stage training state (saved every epoch, resumed from); null = none.</param>
    /// <param name="streamProgress">Where the steps of the streamed epoch (and the warm-up before it) report.</param>
    /// <param name="streamCancellation">Stops the streamed epoch (and the warm-up before it).</param>
    /// <param name="images">The images of the samples the teacher batches name (the data path: the stage's shard source).</param>
    /// <param name="kept">Where the training batches are kept for the later epochs (on disk), and how many shards are
    /// read back at a time (<see cref="KeptShards.ReadBack{T}"/>).</param>
    public MimicStudent(string stage, VlmConfig studentConfig, MimicOptions options, string teacherCheckpoint,
        int trainSamples, Func<int, bool> isHeldOut, IReadOnlyList<SampleRow> captions, string denseDir, string moeDir, ImageFormat imageFormat,
        PreparedData data, ISampleImages images, KeptShards kept, Placement? placement = null, TrainingStateStore? states = null,
        StudentInit? init = null, IStageProgress? streamProgress = null, CancellationToken streamCancellation = default)
    {
        _kept = kept;
        ArgumentOutOfRangeException.ThrowIfNegative(trainSamples);
        _trainSamples = trainSamples;
        _progress = new RelayProgress(streamProgress ?? NullStageProgress.Instance);
        _streamCancellation = streamCancellation;
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
        _images = images;
        _placement = placement;
        _states = states;
    }

    /// <summary>Time spent decoding teacher/v2 batches.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public StepReport Consume(int shardId, byte[] teacherBatch)
    {
        var (rows, meta) = _codec.Decoding(() => TeacherV2.Read(teacherBatch, _images));
        CheckMeta(shardId, meta);
        if (_isHeldOut(shardId))
        {
            if (!_heldOut.TryAdd(shardId, rows)) throw new InvalidOperationException($"{_stage}: shard {shardId} was consumed twice");
            return new StepReport(shardId, rows.Count, double.NaN);
        }
        _kept.Put(shardId, teacherBatch, rows.Count);
        _session ??= Curriculum().Start(Objective(), (DensePhase, MoePhase), _captions, _imageFormat, _data.PadId, SaveCheckpoint,
            _progress, _trainSamples, _streamCancellation);
        return new StepReport(shardId, rows.Count, _session.Stream(rows, _streamCancellation));
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
        // The kept shards in id order (= the order of the training split), so the run does not depend on arrival order.
        var train = _kept.ReadBack(batch => TeacherV2.Read(batch, _images).Rows);
        if (train.Count == 0) throw new InvalidOperationException($"{_stage}: no training shard was consumed");
        _progress.Target = progress;
        _session ??= Curriculum().Start(Objective(), (DensePhase, MoePhase), _captions, _imageFormat, _data.PadId, SaveCheckpoint,
            _progress, streamedRows: null, cancellation);
        var figures = _session.Finish(train, cancellation);
        _session.Dispose();
        _session = null;
        figures["train_samples"] = train.Count;
        figures["heldout_samples"] = HeldOutRows().Count;
        figures["kept_bytes"] = _kept.Bytes;
        _kept.Delete();
        return new StageOutcome(_options.Schedule.UpcyclesToMoe ? _moeDir : _denseDir, figures);
    }

    private StudentCurriculum Curriculum() =>
        new(_stage, _config, _options.Schedule, _options.Train, _teacherCheckpoint, _placement, _states, _init);

    /// <summary>The distillation loss; held-out KL and CE on the held-out shards consumed by the time it is measured
    /// (they are all in by then: every measurement happens in <see cref="Complete"/>; none without held-out shards).</summary>
    private StudentObjective<TeacherRow> Objective() => new(Loss, student => HeldOut(student, HeldOutRows()));

    private List<TeacherRow> HeldOutRows() => _heldOut.Values.SelectMany(r => r).ToList();

    private void SaveCheckpoint(VisionLanguageModel student, string phase) =>
        ModelFiles.Save(student, _data, phase == DensePhase ? _denseDir : _moeDir);

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
        if (rows.Count == 0) return [];
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

    public void Dispose()
    {
        _session?.Dispose();
        _session = null;
    }
}
