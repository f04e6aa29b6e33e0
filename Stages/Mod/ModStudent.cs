using Distill.Stages.Students;
using Distill.Models.Torch;
using System.Diagnostics;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Mod;
using Distill.Stages.Arrow;
using Distill.Stages.Distillation;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Mod;

/// <summary>Stage <c>mod</c>, student side (gamma-MoD, DESIGN 5.4). On creation, the conversion plan
/// (<see cref="ModConverter"/>): the input student, the ARank of every decoder layer on calibration samples, the layers
/// chosen, the plan written and those layers converted around one shared router. Then the training step (this class):
/// masked routing learning on <c>teacher/v2</c> batches, per batch
/// <c>kd_weight * KL + ce_weight * CE + routing_weight * routing loss</c> (plus the MoE aux loss when the input is an
/// MoE student), the top (1 - skip ratio) of each row's image tokens processed in every MoD layer, in the one training
/// loop of every stage (<see cref="TrainingPhase{T}"/>, phase <c>train</c>, the router at its own learning rate): the
/// first epoch trains while the batches stream in and each is kept on disk (<see cref="KeptShards"/>), later epochs read
/// them back a window of shards at a time (<see cref="ShardWindowRows{T}"/>), so memory does not grow with the data;
/// held-out shards (in memory) only measure the KL. The frozen vision
/// tower runs once per image (<see cref="VisionFeatureCache"/>, shared by the input, the converted and the trained
/// student: the tower is the same), not once per step. On completion: the checkpoint, then what the conversion bought
/// (<see cref="ModBenefit"/>) on the test prompts with the inference thresholds. The training state is saved after every
/// epoch (the streamed first epoch once all batches are in); a stage started again on the same run directory restores
/// the converted student, its optimiser and the figures so far, only collects the batches while they stream in, and
/// goes on after the saved epoch (after the last one: straight to the checkpoint and the measurements).</summary>
public sealed class ModStudent : IStudentStep, IArrowCodecTimed
{
    /// <summary>The phase name of the saved training state.</summary>
    public const string Phase = "train";

    private readonly string _stage;
    private readonly string _inputCheckpoint;
    private readonly ModOptions _options;
    private readonly ModMeasureOptions _measure;
    private readonly PreparedData _data;
    private readonly ISampleImages _images;
    private readonly Func<int, bool> _isHeldOut;
    private readonly string _outputDir;
    private readonly VqaEvaluator? _evaluator;
    private readonly ModConverter _converter;
    private readonly VisionLanguageModel _student;
    private readonly TrainingPhase<TeacherRow> _phase = null!;
    private readonly Dictionary<string, double> _figures = new(StringComparer.Ordinal); // saved with every epoch
    private readonly RelayProgress _progress;
    private readonly CancellationToken _streamCancellation;
    private readonly KeptShards _kept;
    private readonly List<TeacherRow> _heldOut = new();
    private readonly List<double> _epochRouting = new();
    private readonly Stopwatch _clock = new();
    private readonly TrainingStateStore? _states;
    private readonly ArrowCodecClock _codec = new();
    private readonly VisionFeatureCache _features = new();   // the input's frozen tower, shared by every model here
    private TeacherBatchMeta? _meta;
    private double _lastHeldOutKl = double.NaN;

    /// <param name="images">The images of the samples the teacher batches name (the stage's shard source).</param>
    /// <param name="kept">Where the training batches are kept for the later epochs (on disk, as mimic does).</param>
    /// <param name="trainSamples">The training rows that will stream in (the schedule is laid out for them).</param>
    /// <param name="planPath">where the plan (every layer's ARank, the chosen layers) is written as JSON.</param>
    /// <param name="evaluator">scores accuracy before and after on the test split; null = not measured.</param>
    /// <param name="states">the stage's mid-stage training state (saved every epoch, resumed from); null = none.</param>
    /// <param name="streamProgress">Where the steps of the streamed first epoch report.</param>
    /// <param name="streamCancellation">Stops the streamed first epoch.</param>
    public ModStudent(string stage, string inputCheckpoint, ModOptions options, ModMeasureOptions measure, PreparedData data,
        ISampleImages images, KeptShards kept, int trainSamples, Func<int, bool> isHeldOut, string outputDir, string planPath,
        VqaEvaluator? evaluator = null, Placement? placement = null,
        TrainingStateStore? states = null, IStageProgress? streamProgress = null, CancellationToken streamCancellation = default)
    {
        _stage = stage;
        _inputCheckpoint = inputCheckpoint;
        _options = options;
        _measure = measure;
        _data = data;
        _images = images;
        _kept = kept;
        _isHeldOut = isHeldOut;
        _outputDir = outputDir;
        _evaluator = evaluator;
        _states = states;
        _progress = new RelayProgress(streamProgress ?? NullStageProgress.Instance);
        _streamCancellation = streamCancellation;
        _converter = new ModConverter(inputCheckpoint, options, data, placement);

        _student = _converter.LoadInput();
        try
        {
            Plan = _converter.Plan(_student, planPath);
            _converter.Convert(_student);
            var plan = new[] { (Phase, options.Train.Epochs) };
            var saved = states?.Load(state => StoredPhaseCheckpoints.Check(state, plan));
            foreach (var (name, value) in saved?.Figures ?? new Dictionary<string, double>()) _figures[name] = value;
            var checkpoints = states is null ? null : new StoredPhaseCheckpoints(states, plan, _figures, saved, _progress);
            var router = _student.ModRouter!;
            _phase = new TrainingPhase<TeacherRow>(_student, new PhaseSpec(stage, Phase, options.Train.Epochs, options.Train, options.Train.Seed),
                trainSamples, Loss, HeldOut, _progress, checkpoints,
                optimizer: total => new Optimization(_student.parameters(), options.Train, total,
                    [router.Weight], options.RouterLearningRate / options.Train.LearningRate),
                afterEpoch: EndOfEpoch);
        }
        catch
        {
            _phase?.Dispose();
            _student.Dispose();
            throw;
        }
    }

    /// <summary>The converted student being trained.</summary>
    public VisionLanguageModel Student => _student;

    /// <summary>Every layer's ARank and the layers converted.</summary>
    public ModPlan Plan { get; }

    /// <summary>Time spent decoding teacher/v2 batches.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public StepReport Consume(int shardId, byte[] teacherBatch)
    {
        var (rows, meta) = _codec.Decoding(() => TeacherV2.Read(teacherBatch, _images));
        CheckMeta(shardId, meta);
        if (_isHeldOut(shardId))
        {
            _heldOut.AddRange(rows);
            return new StepReport(shardId, rows.Count, double.NaN);
        }
        _kept.Put(shardId, teacherBatch, rows.Count);
        if (_phase.Resumed) return new StepReport(shardId, rows.Count, double.NaN); // epoch 1 is in the saved state
        _clock.Start();
        var loss = _phase.Stream(rows, _streamCancellation);
        _clock.Stop();
        return new StepReport(shardId, rows.Count, loss);
    }

    private void CheckMeta(int shardId, TeacherBatchMeta meta)
    {
        var vocab = _student.Config.Text.VocabSize;
        if (meta.VocabSize != vocab)
            throw new InvalidDataException($"shard {shardId}: teacher vocab size {meta.VocabSize} differs from the student's {vocab} ({_inputCheckpoint})");
        if (meta.Scope != _options.Scope.Name())
            throw new InvalidDataException($"shard {shardId}: teacher batch scope '{meta.Scope}' differs from distill.mimic.scope '{_options.Scope.Name()}'");
        if (_meta is not null && (_meta.TeacherFingerprint != meta.TeacherFingerprint || _meta.TokenizerHash != meta.TokenizerHash))
            throw new InvalidDataException($"shard {shardId}: comes from another teacher or tokenizer than the earlier shards");
        _meta ??= meta;
    }

    /// <summary>The loss of one batch of masked routing learning: distillation + routing loss (+ MoE aux loss).</summary>
    private Tensor Loss(IReadOnlyList<TeacherRow> rows)
    {
        using var scope = NewDisposeScope();
        var samples = rows.Select(r => r.Sample).ToList();
        using var batch = TrainingBatch.Collate(samples, _data.ImageFormat, _data.PadId, _options.Scope);
        using var teacher = TeacherTargetTensors.Stack(rows, _meta!.TopK);
        var logits = CausalLmLoss.AtPositions(new Student(_student, _features).Logits(batch, samples), batch);  // [N,V]
        var (distill, _, _) = MimicLoss.Compute(logits, batch, teacher, _options.Mimic);
        var routing = _student.ModRoutingLoss();                                                        // []
        var total = distill.add(routing.to(distill.device).mul(Scalars.Of(_options.RoutingLossWeight)), Scalars.One);
        if (_student.Config.Text.Moe is { } moe)
            total = total.add(_student.MoeAuxLoss().to(distill.device).mul(Scalars.Of(moe.AuxLossCoefficient)), Scalars.One);
        double routingValue = routing.item<float>();
        _figures.TryAdd("routing_loss_first", routingValue);
        _figures["routing_loss_last"] = routingValue;
        _epochRouting.Add(routingValue);
        return total.MoveToOuterDisposeScope();
    }

    /// <summary>The held-out KL of the student being trained (nothing without held-out shards).</summary>
    private IReadOnlyList<(string, double)> HeldOut()
    {
        if (_heldOut.Count == 0) return [];
        _lastHeldOutKl = HeldOutKl(_student);
        return [("heldout_kl", _lastHeldOutKl)];
    }

    /// <summary>The epoch's figures, saved with it: the mean routing loss, the last step's loss and the held-out KL after it.</summary>
    private void EndOfEpoch(int epoch)
    {
        _figures["train_loss_final"] = _phase.LastLoss;
        _figures[$"routing_loss_epoch{epoch}"] = _epochRouting.Count == 0 ? double.NaN : _epochRouting.Average();
        _epochRouting.Clear();
        if (_heldOut.Count > 0) _figures[$"heldout_kl_epoch{epoch}"] = _lastHeldOutKl;
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation)
    {
        var train = _kept.ReadBack(batch => TeacherV2.Read(batch, _images).Rows);
        if (train.Count == 0) throw new InvalidOperationException($"{_stage}: no training shard was consumed");
        _progress.Target = progress;
        int epochs = _options.Train.Epochs;
        if (_phase.Resumed)
        {
            _figures[TrainingState.ResumedFigure] = _phase.EpochsDone;
            progress.Report(new StageProgress(_stage, TrainingState.ResumedPhase, _phase.EpochsDone, epochs, 0, double.NaN));
        }
        else
        {
            if (_heldOut.Count > 0)
                using (var input = _converter.LoadInput()) _figures["heldout_kl_input"] = HeldOutKl(input);
            // The start of the streamed epoch: the converted student before any step, rebuilt exactly.
            _phase.MeasureStart(() =>
            {
                if (_heldOut.Count == 0) return [];
                using var initial = _converter.NewConverted();
                _figures["heldout_kl_epoch0"] = HeldOutKl(initial);
                return [("heldout_kl", _figures["heldout_kl_epoch0"])];
            });
            _clock.Start();
            _phase.EndStreamedEpoch(cancellation); // epoch 1 ran while the teacher batches streamed in
            _clock.Stop();
        }
        _clock.Start();
        _phase.RunEpochs(train, cancellation);
        _clock.Stop();
        _phase.Finish();
        var figures = new Dictionary<string, double>(_figures, StringComparer.Ordinal);
        if (_heldOut.Count > 0)
        {
            figures["heldout_kl_final"] = figures[$"heldout_kl_epoch{epochs}"];
            // The same with the training routing (top (1 - skip ratio) of the image tokens): the gap to the final KL is
            // what threshold inference changes.
            figures["heldout_kl_topk_final"] = HeldOutKl(_student, topK: true);
        }
        figures["params"] = _student.ParameterCount();
        figures["train_samples"] = train.Count;
        figures["kept_bytes"] = _kept.Bytes;
        figures["heldout_samples"] = _heldOut.Count;
        figures["vision_cache_images"] = _features.Count;
        if (_phase.SessionSamples > 0) figures["samples_per_second"] = _phase.SessionSamples / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

        Directory.CreateDirectory(_outputDir);
        ModelFiles.Save(_student, _data, _outputDir);

        AddPlanFigures(figures);
        using (var input = _converter.LoadInput())
            ModBenefit.Measure(input, _student, _data, _measure, _evaluator, _stage, figures, progress, cancellation);
        _states?.Delete();
        _kept.Delete();
        return new StageOutcome(_outputDir, figures);
    }

    /// <summary><c>arank.layerN</c> and <c>converted.layerN</c> (1 or 0) for every layer, and the counts.</summary>
    private void AddPlanFigures(Dictionary<string, double> figures)
    {
        foreach (var layer in Plan.Layers)
        {
            figures[$"arank.layer{layer.Layer}"] = layer.ARank;
            figures[$"converted.layer{layer.Layer}"] = layer.Converted ? 1 : 0;
        }
        figures["layers"] = Plan.Layers.Count;
        figures["converted_layers"] = Plan.Converted.Count;
        figures["calibration_samples"] = Plan.CalibrationSamples;
    }

    /// <summary>Mean sparse KL(teacher || model) per held-out predicting position, in eval mode (for a MoD model: the
    /// inference thresholds decide which tokens each MoD layer processes) or, with <paramref name="topK"/>, in training
    /// mode under no_grad (the masked top-k routing of training).</summary>
    private double HeldOutKl(VisionLanguageModel model, bool topK = false)
    {
        var wasTraining = model.training;
        model.train(topK);
        try
        {
            using var noGrad = no_grad();
            double sum = 0;
            long positions = 0;
            foreach (var chunk in _heldOut.Chunk(_options.Train.BatchSize))
            {
                using var scope = NewDisposeScope();
                var samples = chunk.Select(r => r.Sample).ToList();
                using var batch = TrainingBatch.Collate(samples, _data.ImageFormat, _data.PadId, _options.Scope);
                using var teacher = TeacherTargetTensors.Stack(chunk, _meta!.TopK);
                var logits = CausalLmLoss.AtPositions(new Student(model, _features).Logits(batch, samples), batch);
                var (_, kd, _) = MimicLoss.Compute(logits, batch, teacher, _options.Mimic);
                sum += kd.item<float>() * batch.Positions;
                positions += batch.Positions;
            }
            return positions == 0 ? double.NaN : sum / positions;
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    public void Dispose()
    {
        _phase?.Dispose();
        _features.Dispose();
        _student.Dispose();
    }
}
