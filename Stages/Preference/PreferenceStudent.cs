using Distill.Stages.Workspace;
using Distill.Stages.Students;
using Distill.Models.Torch;
using System.Diagnostics;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Text;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Preference;

/// <summary>Stage <c>preference</c>, student side (LLaVA-MoD preference distillation): the student continues from its
/// checkpoint and learns from <c>preference/v1</c> batches with the DPO-family loss (<see cref="PreferenceLoss"/>),
/// plus the MoE aux loss (times its coefficient, 0.01 by default) for an MoE student. The reference log-probs are the
/// teacher's, cached in the batches, so no teacher model is ever loaded here. The vision tower stays frozen and runs
/// once per image (<see cref="VisionFeatureCache"/>), not once per step. As in
/// <see cref="Distillation.MimicStudent"/>, the first epoch trains while batches stream in and each training batch is
/// kept on disk (<see cref="KeptShards"/>); later epochs and the before/after measurements read them back a window of
/// shards at a time (<see cref="ShardWindowRows{T}"/>), so memory does not grow with the pairs; held-out shards (in
/// memory) are only evaluated. Outcome: pairs by source, reward margins and preference accuracy
/// (share of pairs with r_w &gt; r_l) before and after, on the training and the held-out pairs, the first and the last
/// epoch's mean loss.
/// Training runs the one loop of every stage (<see cref="TrainingPhase{T}"/>, phase <c>train</c>): batches of the batch
/// size as the pairs arrive, then the seeded replays. The training state is saved after every epoch (the streamed
/// first epoch when all batches are in); a stage started again on the same run directory restores the saved student
/// and optimiser, only collects the pairs while they stream in, and replays the epochs after the saved one.</summary>
public sealed class PreferenceStudent : IStudentStep, IArrowCodecTimed
{
    /// <summary>The phase name of the saved training state.</summary>
    public const string Phase = "train";

    private readonly string _stage;
    private readonly string _inputCheckpoint;
    private readonly PreferenceOptions _options;
    private readonly Func<int, bool> _isHeldOut;
    private readonly string _outputDir;
    private readonly ImageFormat _imageFormat;
    private readonly PreparedData _data;
    private readonly IReadOnlyDictionary<string, double> _sourceFigures;
    private readonly Placement? _placement;
    private readonly VisionLanguageModel _student;
    private readonly KeptShards _kept;
    private readonly SortedDictionary<string, int> _pairsBySource = new(StringComparer.Ordinal);
    private readonly List<PreferenceRow> _heldOut = new();
    private readonly Stopwatch _clock = new();
    private readonly TrainingStateStore? _states;
    private readonly TrainingPhase<PreferenceRow> _phase = null!;
    private readonly RelayProgress _progress;
    private readonly CancellationToken _streamCancellation;
    private readonly ArrowCodecClock _codec = new();
    private readonly VisionFeatureCache _features = new();    // the input student's frozen tower, shared by every model here
    private PreferenceBatchMeta? _meta;

    /// <param name="inputCheckpoint">the student to continue (never the teacher).</param>
    /// <param name="trainPairs">training pairs the stage will deliver (sets the learning-rate schedule).</param>
    /// <param name="kept">Where the training batches are kept for the later epochs.</param>
    /// <param name="sourceFigures">figures of how the pairs were collected, copied into the outcome.</param>
    /// <param name="states">the stage's mid-stage training state (saved every epoch, resumed from); null = none.</param>
    /// <param name="streamProgress">Where the steps of the streamed first epoch report.</param>
    /// <param name="streamCancellation">Stops the streamed first epoch.</param>
    public PreferenceStudent(string stage, string inputCheckpoint, PreferenceOptions options, int trainPairs,
        Func<int, bool> isHeldOut, string outputDir, ImageFormat imageFormat, PreparedData data, KeptShards kept,
        IReadOnlyDictionary<string, double>? sourceFigures = null, Placement? placement = null, TrainingStateStore? states = null,
        IStageProgress? streamProgress = null, CancellationToken streamCancellation = default)
    {
        if (trainPairs <= 0) throw new InvalidOperationException($"{stage}: no training pair to learn from ({trainPairs})");
        _stage = stage;
        _inputCheckpoint = inputCheckpoint;
        _options = options;
        _isHeldOut = isHeldOut;
        _outputDir = outputDir;
        _imageFormat = imageFormat;
        _data = data;
        _kept = kept;
        _sourceFigures = sourceFigures ?? new Dictionary<string, double>();
        _placement = placement;
        _progress = new RelayProgress(streamProgress ?? NullStageProgress.Instance);
        _streamCancellation = streamCancellation;
        manual_seed(options.Train.Seed);
        _student = LoadStudent();
        _states = states;
        try
        {
            var plan = new[] { (Phase, options.Train.Epochs) };
            var saved = states?.Load(state => StoredPhaseCheckpoints.Check(state, plan));
            var checkpoints = states is null ? null : new StoredPhaseCheckpoints(states, plan, new Dictionary<string, double>(), saved, _progress);
            _phase = new TrainingPhase<PreferenceRow>(_student, new PhaseSpec(stage, Phase, options.Train.Epochs, options.Train, options.Train.Seed),
                trainPairs, Loss, heldOut: null, _progress, checkpoints);
            _phase.MeasureStart();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public VisionLanguageModel Student => _student;

    /// <summary>The input student, vision tower frozen.</summary>
    private VisionLanguageModel LoadStudent()
    {
        var student = Checkpoint.Load(_inputCheckpoint);
        if (student.Config.Text.VocabSize < _data.Tokenizer.VocabSize)
            throw new InvalidDataException($"{_inputCheckpoint}: vocab_size {student.Config.Text.VocabSize} is smaller than the tokenizer's {_data.Tokenizer.VocabSize} ids");
        student.FreezeVisionTower();
        return student.Place(_placement);
    }

    /// <summary>Time spent decoding preference/v1 batches.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public StepReport Consume(int shardId, byte[] preferenceV1)
    {
        var (rows, meta, imageBytes) = _codec.Decoding(() => PreferenceV1.Read(preferenceV1));
        CheckMeta(shardId, meta, imageBytes);
        if (_isHeldOut(shardId))
        {
            _heldOut.AddRange(rows);
            return new StepReport(shardId, rows.Count, double.NaN);
        }
        _kept.Put(shardId, preferenceV1, rows.Count);
        foreach (var row in rows) _pairsBySource[row.Source] = _pairsBySource.GetValueOrDefault(row.Source) + 1;
        if (_phase.Resumed) return new StepReport(shardId, rows.Count, double.NaN); // epoch 1 is in the saved state
        _clock.Start(); // pairs/s counts from the first trained shard to the end of the stage
        return new StepReport(shardId, rows.Count, _phase.Stream(rows, _streamCancellation));
    }

    private void CheckMeta(int shardId, PreferenceBatchMeta meta, int imageBytes)
    {
        if (meta.TokenizerHash != _data.Tokenizer.Hash)
            throw new InvalidDataException($"shard {shardId}: {PreferenceV1.SchemaName} tokenizer hash {meta.TokenizerHash} differs from the student's {_data.Tokenizer.Hash}");
        if (imageBytes != _imageFormat.Bytes)
            throw new InvalidDataException($"shard {shardId}: images of {imageBytes} bytes, the student expects {_imageFormat}x{_imageFormat}x3");
        if (_meta is not null && _meta.TeacherFingerprint != meta.TeacherFingerprint)
            throw new InvalidDataException($"shard {shardId}: reference log-probs of teacher {meta.TeacherFingerprint}, earlier shards had {_meta.TeacherFingerprint}");
        _meta ??= meta;
    }

    /// <summary>The DPO-family loss of one batch, plus the chosen responses' NLL (sft-weight) and the MoE aux loss.</summary>
    private Tensor Loss(IReadOnlyList<PreferenceRow> rows)
    {
        using var scope = NewDisposeScope();
        var (chosen, rejected, refChosen, refRejected, chosenTokens) = PolicyLogProbs.WithChosenLengths(_student, rows, _imageFormat, _data.PadId, _features);
        var loss = PreferenceLoss.Compute(_options.Loss, _options.Beta, chosen, rejected, refChosen, refRejected);
        if (_options.SftWeight > 0)
            loss = loss.add(PreferenceLoss.ChosenNll(chosen, chosenTokens).mul(Scalars.Of(_options.SftWeight)), Scalars.One);
        if (_student.Config.Text.Moe is { } moe)
            loss = loss.add(_student.MoeAuxLoss().mul(Scalars.Of(moe.AuxLossCoefficient)), Scalars.One);
        return loss.MoveToOuterDisposeScope();
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation)
    {
        var train = _kept.ReadBack(batch => PreferenceV1.Read(batch).Rows);
        if (train.Count == 0) throw new InvalidOperationException($"{_stage}: no training pair was consumed");
        var figures = new Dictionary<string, double>(_sourceFigures);
        foreach (var (source, count) in _pairsBySource) figures[$"pairs_{source.Replace('-', '_')}"] = count;
        figures["train_pairs"] = train.Count;
        figures["kept_bytes"] = _kept.Bytes;
        figures["heldout_pairs"] = _heldOut.Count;
        _progress.Target = progress;
        if (!_phase.Resumed) _phase.EndStreamedEpoch(cancellation); // epoch 1 ran while the teacher batches streamed in
        else
        {
            figures[TrainingState.ResumedFigure] = _phase.EpochsDone;
            progress.Report(new StageProgress(_stage, TrainingState.ResumedPhase, _phase.EpochsDone, _options.Train.Epochs, 0, double.NaN));
        }

        using (var initial = LoadStudent()) Measure(initial, train, "before", figures);
        progress.Report(new StageProgress(_stage, "before", 0, _options.Train.Epochs, 0, figures["train_loss_before"]));
        _clock.Start(); // already running unless the stage was resumed
        _phase.RunEpochs(train, cancellation);
        _clock.Stop();
        var result = _phase.Finish();
        Measure(_student, train, "after", figures);
        progress.Report(new StageProgress(_stage, "after", _options.Train.Epochs, _options.Train.Epochs, 0, figures["train_loss_after"]));
        // The mean training loss of the first and of the last epoch.
        figures["loss_first"] = result.EpochLosses.Count == 0 ? double.NaN : result.EpochLosses[0];
        figures["loss_last"] = result.EpochLosses.Count == 0 ? double.NaN : result.EpochLosses[^1];
        figures["params"] = _student.ParameterCount();
        figures["vision_cache_images"] = _features.Count;
        if (_phase.SessionSamples > 0) figures["pairs_per_second"] = _phase.SessionSamples / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

        Directory.CreateDirectory(_outputDir);
        ModelFiles.Save(_student, _data, _outputDir);
        _states?.Delete();
        _kept.Delete();
        return new StageOutcome(_outputDir, figures);
    }

    /// <summary>reward_margin_{when}, accuracy_{when}, train_loss_{when} (the preference loss alone) and
    /// chosen_nll_{when} on the training pairs, and the heldout_ ones when there are held-out pairs.</summary>
    private void Measure(VisionLanguageModel model, ShardWindowRows<PreferenceRow> trainRows, string when, Dictionary<string, double> figures)
    {
        var train = Evaluate(model, trainRows.InShardOrder());
        figures[$"reward_margin_{when}"] = train.Margin;
        figures[$"accuracy_{when}"] = train.Accuracy;
        figures[$"train_loss_{when}"] = train.Loss;
        figures[$"chosen_nll_{when}"] = train.ChosenNll;
        if (_heldOut.Count == 0) return;
        var heldOut = Evaluate(model, _heldOut);
        figures[$"heldout_reward_margin_{when}"] = heldOut.Margin;
        figures[$"heldout_accuracy_{when}"] = heldOut.Accuracy;
        figures[$"heldout_chosen_nll_{when}"] = heldOut.ChosenNll;
        figures[$"heldout_loss_{when}"] = heldOut.Loss;
    }

    /// <summary>The preference metrics of <paramref name="model"/> (this stage's student, or the input it started from:
    /// the same frozen tower) on <paramref name="rows"/> (eval mode, no grad).</summary>
    private PreferenceMetrics Evaluate(VisionLanguageModel model, IEnumerable<PreferenceRow> rows)
    {
        model.eval();
        using var noGrad = no_grad();
        var margins = new List<double>();
        double lossSum = 0, nllSum = 0;
        foreach (var chunk in rows.Chunk(_options.Train.BatchSize))
        {
            using var scope = NewDisposeScope();
            var (chosen, rejected, refChosen, refRejected, chosenTokens) = PolicyLogProbs.WithChosenLengths(model, chunk, _imageFormat, _data.PadId, _features);
            nllSum += PreferenceLoss.ChosenNll(chosen, chosenTokens).item<float>() * chunk.Length;
            var (rw, rl) = PreferenceLoss.LogRatios(chosen, rejected, refChosen, refRejected);
            margins.AddRange((rw - rl).cpu().data<float>().ToArray().Select(m => _options.Beta * m));
            lossSum += PreferenceLoss.Compute(_options.Loss, _options.Beta, chosen, rejected, refChosen, refRejected).item<float>() * chunk.Length;
        }
        return PreferenceMetrics.From(margins, lossSum, nllSum);
    }

    public void Dispose()
    {
        _phase?.Dispose();
        _features.Dispose();
        _student.Dispose();
    }
}
