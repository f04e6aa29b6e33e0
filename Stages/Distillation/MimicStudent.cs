using System.Diagnostics;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Distill.Stages.Text;
using Distill.Stages.Training;
using static TorchSharp.torch;

namespace Distill.Stages.Distillation;

/// <summary>Stage <c>mimic</c>, student side (LLaVA-MoD mimic distillation with LLAVADI's response-token logit
/// alignment): a student whose vision tower is copied from the teacher and frozen learns from <c>teacher/v1</c>
/// batches. The first epoch trains as batches stream in from the teacher workers; the decoded batches are kept,
/// so the remaining epochs replay them without running the teacher again. Held-out shards are never trained on:
/// the sparse KL on them is measured for the initial student and after every epoch.</summary>
public sealed class MimicStudent : IStudentStep
{
    private readonly string _stage;
    private readonly VlmConfig _config;
    private readonly MimicOptions _options;
    private readonly Func<int, bool> _isHeldOut;
    private readonly string _teacherCheckpoint;
    private readonly string _outputDir;
    private readonly int _imageSize;
    private readonly int _padId;
    private readonly WordTokenizer _tokenizer;
    private readonly Device? _device;
    private readonly VisionLanguageModel _student;
    private readonly Optimization _optimization;
    private readonly long _totalSteps;
    private readonly List<TeacherRow> _train = new();
    private readonly List<TeacherRow> _heldOut = new();
    private readonly Stopwatch _clock = new();
    private TeacherBatchMeta? _meta;
    private long _samplesTrained;
    private double _lastLoss = double.NaN;

    public MimicStudent(string stage, VlmConfig studentConfig, MimicOptions options, string teacherCheckpoint,
        int trainSamples, Func<int, bool> isHeldOut, string outputDir, int imageSize, WordTokenizer tokenizer, Device? device = null)
    {
        _stage = stage;
        _config = studentConfig;
        _options = options;
        _isHeldOut = isHeldOut;
        _teacherCheckpoint = teacherCheckpoint;
        _outputDir = outputDir;
        _imageSize = imageSize;
        _tokenizer = tokenizer;
        _device = device;
        _padId = tokenizer.PadId;
        _student = NewStudent();
        long stepsPerEpoch = (trainSamples + options.Train.BatchSize - 1) / options.Train.BatchSize;
        _totalSteps = stepsPerEpoch * options.Train.Epochs;
        _optimization = new Optimization(_student.parameters(), options.Train, _totalSteps);
    }

    public VisionLanguageModel Student => _student;

    /// <summary>A freshly initialised student (seeded) with the teacher's vision tower, frozen.</summary>
    private VisionLanguageModel NewStudent()
    {
        manual_seed(_options.Train.Seed);
        var student = new VisionLanguageModel(_config);
        using (var teacher = Checkpoint.Load(_teacherCheckpoint)) student.LoadVisionTowerFrom(teacher);
        student.FreezeVisionTower();
        return student.OnDevice(_device);
    }

    public StepReport Consume(int shardId, byte[] teacherV1)
    {
        var (rows, meta) = TeacherV1.Read(teacherV1);
        CheckMeta(shardId, meta);
        if (_isHeldOut(shardId))
        {
            _heldOut.AddRange(rows);
            return new StepReport(shardId, rows.Count, double.NaN);
        }
        _train.AddRange(rows);
        _clock.Start();
        double sum = 0;
        int batches = 0;
        foreach (var chunk in rows.Chunk(_options.Train.BatchSize))
        {
            sum += TrainStep(chunk);
            batches++;
        }
        return new StepReport(shardId, rows.Count, batches == 0 ? double.NaN : sum / batches);
    }

    private void CheckMeta(int shardId, TeacherBatchMeta meta)
    {
        if (meta.VocabSize != _config.Text.VocabSize)
            throw new InvalidDataException($"shard {shardId}: teacher vocab size {meta.VocabSize} differs from the student's {_config.Text.VocabSize}");
        if (meta.Scope != _options.Scope.Name())
            throw new InvalidDataException($"shard {shardId}: teacher batch scope '{meta.Scope}' differs from distill.mimic.scope '{_options.Scope.Name()}'");
        if (_meta is not null && (_meta.TeacherFingerprint != meta.TeacherFingerprint || _meta.TokenizerHash != meta.TokenizerHash))
            throw new InvalidDataException($"shard {shardId}: comes from another teacher or tokenizer than the earlier shards");
        _meta ??= meta;
    }

    private double TrainStep(IReadOnlyList<TeacherRow> rows)
    {
        _student.train();
        using var scope = NewDisposeScope();
        using var batch = TrainingBatch.Collate(rows.Select(r => r.Sample).ToList(), _imageSize, _padId, _options.Scope);
        using var teacher = TeacherTargetTensors.Stack(rows, _meta!.TopK);
        var logits = CausalLmLoss.AtPositions(_student.Forward(batch.Pixels, batch.InputIds), batch);
        var (total, _, _) = MimicLoss.Compute(logits, batch, teacher, _options);
        _optimization.Step(total);
        _samplesTrained += rows.Count;
        _lastLoss = total.item<float>();
        return _lastLoss;
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation)
    {
        var figures = new Dictionary<string, double>();
        if (_train.Count == 0) throw new InvalidOperationException($"{_stage}: no training shard was consumed");
        if (_heldOut.Count > 0)
        {
            using (var initial = NewStudent()) figures["heldout_kl_epoch0"] = HeldOutKl(initial);
            progress.Report(new StageProgress(_stage, "heldout-kl", 0, _options.Train.Epochs, 0, figures["heldout_kl_epoch0"]));
        }
        for (int epoch = 1; epoch <= _options.Train.Epochs; epoch++)
        {
            if (epoch > 1) // epoch 1 ran while the teacher batches streamed in
            {
                foreach (var chunk in TeacherPretraining.Shuffled(_train, _options.Train.Seed + epoch).Chunk(_options.Train.BatchSize))
                {
                    cancellation.ThrowIfCancellationRequested();
                    TrainStep(chunk);
                    progress.Report(new StageProgress(_stage, "replay", _optimization.StepsTaken, _totalSteps,
                        _samplesTrained / _clock.Elapsed.TotalSeconds, _lastLoss));
                }
            }
            if (_heldOut.Count > 0)
            {
                double kl = HeldOutKl(_student);
                figures[$"heldout_kl_epoch{epoch}"] = kl;
                progress.Report(new StageProgress(_stage, "heldout-kl", epoch, _options.Train.Epochs, 0, kl));
            }
        }
        _clock.Stop();
        figures["train_loss_final"] = _lastLoss;
        if (_heldOut.Count > 0) figures["heldout_kl_final"] = figures[$"heldout_kl_epoch{_options.Train.Epochs}"];
        figures["params"] = _student.ParameterCount();
        figures["train_samples"] = _train.Count;
        figures["heldout_samples"] = _heldOut.Count;
        figures["samples_per_second"] = _samplesTrained / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);
        Directory.CreateDirectory(_outputDir);
        Checkpoint.Save(_student, _outputDir);
        _tokenizer.Save(Path.Combine(_outputDir, TeacherPretraining.TokenizerFile));
        return new StageOutcome(_outputDir, figures);
    }

    /// <summary>Mean sparse KL(teacher || model) per held-out predicting position.</summary>
    private double HeldOutKl(VisionLanguageModel model)
    {
        model.eval();
        using var noGrad = no_grad();
        double sum = 0;
        long positions = 0;
        foreach (var chunk in _heldOut.Chunk(_options.Train.BatchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = TrainingBatch.Collate(chunk.Select(r => r.Sample).ToList(), _imageSize, _padId, _options.Scope);
            using var teacher = TeacherTargetTensors.Stack(chunk, _meta!.TopK);
            var logits = CausalLmLoss.AtPositions(model.Forward(batch.Pixels, batch.InputIds), batch);
            var (_, kd, _) = MimicLoss.Compute(logits, batch, teacher, _options);
            sum += kd.item<float>() * batch.Positions;
            positions += batch.Positions;
        }
        return positions == 0 ? double.NaN : sum / positions;
    }

    public void Dispose()
    {
        _optimization.Dispose();
        _student.Dispose();
    }
}
