using Distill.Models.Torch;
using System.Diagnostics;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Stages.Arrow;
using Distill.Stages.Distillation;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Training;

/// <summary>Stage <c>teacher</c> for the synthetic default (DESIGN 5.1): no pretrained weights exist, so the teacher
/// is trained by supervised fine-tuning (CE on response tokens) on the training split. The result is saved as a
/// checkpoint with the tokenizer and a fingerprint of data + config; a checkpoint with the same fingerprint is reused.</summary>
public sealed class TeacherPretraining
{
    public const string FingerprintFile = "distill-fingerprint.txt";
    public const string TokenizerFile = "tokenizer.json";

    private readonly PreparedData _data;
    private readonly VlmConfig _config;
    private readonly TrainOptions _options;
    private readonly string _outputDir;
    private readonly string _fingerprint;
    private readonly Placement? _placement;
    private readonly TeacherStore? _store;

    public TeacherPretraining(PreparedData data, VlmConfig config, TrainOptions options, string outputDir, string dataFingerprint, Placement? placement = null,
        TeacherStore? store = null)
    {
        _store = store;
        _data = data;
        _config = config;
        _options = options;
        _outputDir = outputDir;
        _placement = placement;
        _fingerprint = Training.Fingerprint.Of("teacher-sft/v1", dataFingerprint, data.Tokenizer.Hash, config, options);
    }

    public string TeacherFingerprint => _fingerprint;

    /// <summary>True when <paramref name="dir"/> holds a finished teacher for this fingerprint.</summary>
    public bool IsCached => File.Exists(Path.Combine(_outputDir, FingerprintFile))
                            && File.ReadAllText(Path.Combine(_outputDir, FingerprintFile)).Trim() == _fingerprint;

    public StageOutcome Run(IStageProgress progress, CancellationToken cancellation)
    {
        if (IsCached)
        {
            progress.Report(new StageProgress("teacher", "cached", 1, 1, 0, double.NaN));
            return new StageOutcome(_outputDir, new Dictionary<string, double> { ["reused"] = 1 });
        }
        string? problem = null;
        if (_store is not null && _store.TryGet(_fingerprint, out problem) is { } stored)
        {
            // The fingerprint file marks the copy complete: it goes last, so a torn copy is never taken as a teacher.
            Directory.CreateDirectory(_outputDir);
            File.Delete(Path.Combine(_outputDir, FingerprintFile));
            TeacherStore.CopyOut(stored, _outputDir, last: FingerprintFile);
            Console.Out.WriteLine($"teacher: reused from the teacher store, {stored} (no pretraining)");
            progress.Report(new StageProgress("teacher", "store", 1, 1, 0, double.NaN));
            return new StageOutcome(_outputDir, new Dictionary<string, double> { ["reused_from_store"] = 1 });
        }
        if (_store is not null && problem is not null)
            Console.Error.WriteLine($"teacher: the stored teacher is not used ({problem}); pretraining, then storing it again");

        var train = _data.Rows("train");
        var val = _data.Rows("val");
        manual_seed(_options.Seed);
        using var model = new VisionLanguageModel(_config, _placement);
        // The student phases' loop; epoch e (from 1) replays the shuffle of seed + e - 1.
        var spec = new PhaseSpec("teacher", "train", _options.Epochs, _options, ShuffleSeed: _options.Seed - 1);
        var clock = Stopwatch.StartNew();
        PhaseResult result;
        using (var phase = new TrainingPhase<SampleRow>(model, spec, train.Count, rows => Loss(model, rows),
                   () => [("val_loss", MeanCrossEntropy(model, val, _data, _options.BatchSize))], progress))
        {
            phase.MeasureStart();
            phase.RunEpochs(train, cancellation);
            result = phase.Finish();
        }
        var figures = new Dictionary<string, double>();
        var valLoss = result.HeldOut["val_loss"];
        for (int epoch = 0; epoch < valLoss.Count; epoch++) figures[$"val_loss_epoch{epoch}"] = valLoss[epoch];
        figures["train_loss_final"] = result.EpochLosses.Count == 0 ? double.NaN : result.EpochLosses[^1];
        figures["val_loss_final"] = valLoss[^1];
        figures["samples_per_second"] = result.Samples / clock.Elapsed.TotalSeconds;
        figures["params"] = model.ParameterCount();
        Save(model);
        _store?.Put(_fingerprint, _outputDir);
        return new StageOutcome(_outputDir, figures);
    }

    /// <summary>Response-token cross-entropy of one batch (the forward through the whole model: the teacher's tower trains).</summary>
    private Tensor Loss(VisionLanguageModel model, IReadOnlyList<SampleRow> rows)
    {
        using var scope = NewDisposeScope();
        using var batch = TrainingBatch.Collate(rows, _data.ImageFormat, _data.PadId, TokenScope.Response);
        var logits = model.Forward(batch.Pixels, batch.InputIds);
        return CausalLmLoss.CrossEntropy(CausalLmLoss.AtPositions(logits, batch), batch).MoveToOuterDisposeScope();
    }

    private void Save(VisionLanguageModel model)
    {
        Directory.CreateDirectory(_outputDir);
        File.Delete(Path.Combine(_outputDir, FingerprintFile));
        ModelFiles.Save(model, _data, _outputDir);
        File.WriteAllText(Path.Combine(_outputDir, FingerprintFile), _fingerprint + "\n"); // written last: marks it complete
    }

    /// <summary>Mean response-token cross-entropy of <paramref name="model"/> over <paramref name="rows"/>.</summary>
    public static double MeanCrossEntropy(VisionLanguageModel model, IReadOnlyList<SampleRow> rows, PreparedData data, int batchSize)
    {
        model.eval();
        double total = 0;
        long positions = 0;
        using var noGrad = no_grad();
        foreach (var chunk in rows.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            using var batch = TrainingBatch.Collate(chunk, data.ImageFormat, data.PadId, TokenScope.Response);
            var logits = CausalLmLoss.AtPositions(model.Forward(batch.Pixels, batch.InputIds), batch);
            total += CausalLmLoss.CrossEntropy(logits, batch).item<float>() * batch.Positions;
            positions += batch.Positions;
        }
        return positions == 0 ? double.NaN : total / positions;
    }

    /// <summary>A seeded permutation of the rows (Fisher-Yates), the same for the same seed.</summary>
    public static IReadOnlyList<T> Shuffled<T>(IReadOnlyList<T> items, int seed)
    {
        var copy = items.ToArray();
        var random = new Random(seed);
        for (int i = copy.Length - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (copy[i], copy[j]) = (copy[j], copy[i]);
        }
        return copy;
    }
}
