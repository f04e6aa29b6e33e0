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
/// masked routing learning on <c>teacher/v1</c> batches, per batch
/// <c>kd_weight * KL + ce_weight * CE + routing_weight * routing loss</c> (plus the MoE aux loss when the input is an
/// MoE student), the top (1 - skip ratio) of each row's image tokens processed in every MoD layer. The first epoch
/// trains while the batches stream in, later epochs replay them; held-out shards only measure the KL. The frozen vision
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

    private const string LastLossValue = "last_loss", FirstRoutingValue = "first_routing", LastRoutingValue = "last_routing";

    private readonly string _stage;
    private readonly string _inputCheckpoint;
    private readonly ModOptions _options;
    private readonly ModMeasureOptions _measure;
    private readonly PreparedData _data;
    private readonly Func<int, bool> _isHeldOut;
    private readonly string _outputDir;
    private readonly VqaEvaluator? _evaluator;
    private readonly ModConverter _converter;
    private readonly VisionLanguageModel _student;
    private readonly Optimization _optimization;
    private readonly long _totalSteps;
    private readonly long _stepsPerEpoch;
    private readonly List<TeacherRow> _train = new();
    private readonly List<TeacherRow> _heldOut = new();
    private readonly List<double> _epochRouting = new();
    private readonly Stopwatch _clock = new();
    private readonly TrainingStateStore? _states;
    private readonly TrainingState? _resumed;
    private readonly ArrowCodecClock _codec = new();
    private readonly VisionFeatureCache _features = new();   // the input's frozen tower, shared by every model here
    private TeacherBatchMeta? _meta;
    private long _samplesTrained;
    private double _lastLoss = double.NaN;
    private double _firstRouting = double.NaN;
    private double _lastRouting = double.NaN;

    /// <param name="planPath">where the plan (every layer's ARank, the chosen layers) is written as JSON.</param>
    /// <param name="evaluator">scores accuracy before and after on the test split; null = not measured.</param>
    /// <param name="states">the stage's mid-stage training state (saved every epoch, resumed from); null = none.</param>
    public ModStudent(string stage, string inputCheckpoint, ModOptions options, ModMeasureOptions measure, PreparedData data,
        int trainSamples, Func<int, bool> isHeldOut, string outputDir, string planPath, VqaEvaluator? evaluator = null, Placement? placement = null,
        TrainingStateStore? states = null)
    {
        _stage = stage;
        _inputCheckpoint = inputCheckpoint;
        _options = options;
        _measure = measure;
        _data = data;
        _isHeldOut = isHeldOut;
        _outputDir = outputDir;
        _evaluator = evaluator;
        _converter = new ModConverter(inputCheckpoint, options, data, placement);

        _student = _converter.LoadInput();
        try
        {
            Plan = _converter.Plan(_student, planPath);
            _converter.Convert(_student);
            _stepsPerEpoch = (trainSamples + options.Train.BatchSize - 1) / options.Train.BatchSize;
            _totalSteps = _stepsPerEpoch * options.Train.Epochs;
            var router = _student.ModRouter!;
            _optimization = new Optimization(_student.parameters(), options.Train, _totalSteps,
                [router.Weight], options.RouterLearningRate / options.Train.LearningRate);
            _states = states;
            _resumed = states?.Load(Check);
            if (_resumed is not null)
            {
                states!.Restore(_student, _optimization);
                _lastLoss = _resumed.Values[LastLossValue];
                _firstRouting = _resumed.Values[FirstRoutingValue];
                _lastRouting = _resumed.Values[LastRoutingValue];
            }
        }
        catch
        {
            _optimization?.Dispose();
            _student.Dispose();
            throw;
        }
    }

    /// <summary>Why a saved state cannot continue this stage, or null.</summary>
    private string? Check(TrainingState state) =>
        state.Phase != Phase || state.Epoch > _options.Train.Epochs
            ? $"epoch {state.Epoch} of phase '{state.Phase}' is not in this stage ({_options.Train.Epochs} epoch(s) of '{Phase}')"
            : new[] { LastLossValue, FirstRoutingValue, LastRoutingValue }.FirstOrDefault(v => !state.Values.ContainsKey(v)) is { } missing
                ? $"the state lacks '{missing}'"
                : null;

    /// <summary>The converted student being trained.</summary>
    public VisionLanguageModel Student => _student;

    /// <summary>Every layer's ARank and the layers converted.</summary>
    public ModPlan Plan { get; }

    /// <summary>Time spent decoding teacher/v1 batches.</summary>
    public ArrowCodecTime ArrowTime => _codec.Time;

    public StepReport Consume(int shardId, byte[] teacherV1)
    {
        if (_resumed is not null) return Collect(shardId, teacherV1); // epoch 1 is in the saved state
        var (rows, meta) = _codec.Decoding(() => TeacherV1.Read(teacherV1));
        CheckMeta(shardId, meta);
        _clock.Start();
        var report = StreamedShard.Consume(shardId, rows, _isHeldOut(shardId), _heldOut, _train, _options.Train.BatchSize, TrainStep);
        _clock.Stop();
        return report;
    }

    /// <summary>A resumed stage only keeps the rows of a shard (for the replayed epochs and the held-out measurements).</summary>
    private StepReport Collect(int shardId, byte[] teacherV1)
    {
        var (rows, meta) = _codec.Decoding(() => TeacherV1.Read(teacherV1));
        CheckMeta(shardId, meta);
        (_isHeldOut(shardId) ? _heldOut : _train).AddRange(rows);
        return new StepReport(shardId, rows.Count, double.NaN);
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

    /// <summary>One optimizer step of masked routing learning; returns the total loss.</summary>
    private double TrainStep(IReadOnlyList<TeacherRow> rows)
    {
        _student.train();
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
        _optimization.Step(total);
        _samplesTrained += rows.Count;
        _lastLoss = total.item<float>();
        _lastRouting = routing.item<float>();
        if (double.IsNaN(_firstRouting)) _firstRouting = _lastRouting;
        _epochRouting.Add(_lastRouting);
        return _lastLoss;
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation)
    {
        if (_train.Count == 0) throw new InvalidOperationException($"{_stage}: no training shard was consumed");
        var figures = new Dictionary<string, double>(_resumed?.Figures ?? new Dictionary<string, double>());
        int epochs = _options.Train.Epochs;
        if (_resumed is not null)
        {
            figures[TrainingState.ResumedFigure] = _resumed.StageEpoch;
            progress.Report(new StageProgress(_stage, TrainingState.ResumedPhase, _resumed.StageEpoch, epochs, 0, double.NaN));
        }
        else if (_heldOut.Count > 0)
        {
            using (var input = _converter.LoadInput()) figures["heldout_kl_input"] = HeldOutKl(input);
            using (var initial = _converter.NewConverted()) figures["heldout_kl_epoch0"] = HeldOutKl(initial);
            progress.Report(new StageProgress(_stage, "heldout-kl", 0, epochs, 0, figures["heldout_kl_epoch0"]));
        }
        for (int epoch = (_resumed?.Epoch ?? 0) + 1; epoch <= epochs; epoch++)
        {
            if (epoch > 1) // epoch 1 ran while the teacher batches streamed in
            {
                _clock.Start();
                foreach (var chunk in TeacherPretraining.Shuffled(_train, _options.Train.Seed + epoch).Chunk(_options.Train.BatchSize))
                {
                    cancellation.ThrowIfCancellationRequested();
                    TrainStep(chunk);
                    progress.Report(new StageProgress(_stage, "replay", _optimization.StepsTaken, _totalSteps,
                        _samplesTrained / _clock.Elapsed.TotalSeconds, _lastLoss));
                }
                _clock.Stop();
            }
            figures[$"routing_loss_epoch{epoch}"] = _epochRouting.Count == 0 ? double.NaN : _epochRouting.Average();
            _epochRouting.Clear();
            if (_heldOut.Count > 0)
            {
                double kl = HeldOutKl(_student);
                figures[$"heldout_kl_epoch{epoch}"] = kl;
                progress.Report(new StageProgress(_stage, "heldout-kl", epoch, epochs, 0, kl));
            }
            _states?.Save(new TrainingState(Phase, epoch, epoch, new Dictionary<string, double>(figures),
                new Dictionary<string, double> { [LastLossValue] = _lastLoss, [FirstRoutingValue] = _firstRouting, [LastRoutingValue] = _lastRouting },
                new Dictionary<string, IReadOnlyList<double>>()), _student, _optimization, progress, epochs);
        }
        if (_heldOut.Count > 0)
        {
            figures["heldout_kl_final"] = figures[$"heldout_kl_epoch{epochs}"];
            // The same with the training routing (top (1 - skip ratio) of the image tokens): the gap to the final KL is
            // what threshold inference changes.
            figures["heldout_kl_topk_final"] = HeldOutKl(_student, topK: true);
        }
        figures["train_loss_final"] = _lastLoss;
        figures["routing_loss_first"] = _firstRouting;
        figures["routing_loss_last"] = _lastRouting;
        figures["params"] = _student.ParameterCount();
        figures["train_samples"] = _train.Count;
        figures["heldout_samples"] = _heldOut.Count;
        figures["vision_cache_images"] = _features.Count;
        if (_samplesTrained > 0) figures["samples_per_second"] = _samplesTrained / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

        Directory.CreateDirectory(_outputDir);
        ModelFiles.Save(_student, _data, _outputDir);

        AddPlanFigures(figures);
        using (var input = _converter.LoadInput())
            ModBenefit.Measure(input, _student, _data, _measure, _evaluator, _stage, figures, progress, cancellation);
        _states?.Delete();
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
        _optimization.Dispose();
        _features.Dispose();
        _student.Dispose();
    }
}
