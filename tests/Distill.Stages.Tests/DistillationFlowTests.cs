using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Distillation;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Sources;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>The stage algorithms end to end on a tiny dataset, without actors: teacher SFT -> teacher/v1 batches ->
/// mimic student -> evaluation. Small models, few steps: checks wiring and that learning happens.</summary>
public sealed class DistillationFlowTests : IClassFixture<DistillationFlowTests.TinyRun>
{
    public sealed class TinyRun : IDisposable
    {
        public readonly TempDir Dir = new();
        public PreparedData Data { get; }
        public string TeacherDir { get; }
        public StageOutcome TeacherOutcome { get; }
        public TeacherPretraining Pretraining { get; }

        public TinyRun()
        {
            var options = new ShapesOptions
            {
                ImageSize = 16, TrainScenes = 48, ValScenes = 8, TestScenes = 8, QuestionsPerScene = 2,
                MinObjects = 1, MaxObjects = 3, Seed = 3,
            };
            var vision = new VisionConfig(16, 8, 16, 32, 1, 2);
            var prepared = DataPreparation.Prepare(options, Dir.File("data"), null, Dir.File("tokenizer.json"), vision.NumPatches);
            Data = prepared.Data;
            TeacherDir = Dir.File("teacher");
            var text = new DecoderConfig(Data.Tokenizer.VocabSize, 32, 64, 2, 2, 1, MaxPositions: 64);
            Pretraining = new TeacherPretraining(Data, new VlmConfig(vision, text, Data.Tokenizer.ImageId),
                new TrainOptions(Epochs: 3, BatchSize: 16, LearningRate: 3e-3, WeightDecay: 0, WarmupSteps: 2, Seed: 1),
                TeacherDir, prepared.Manifest.Fingerprint);
            TeacherOutcome = Pretraining.Run(NullStageProgress.Instance, CancellationToken.None);
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly TinyRun _run;
    public DistillationFlowTests(TinyRun run) => _run = run;

    [Fact]
    public void TeacherTrainingLowersValidationLossAndIsReusedByFingerprint()
    {
        var f = _run.TeacherOutcome.Figures;
        Assert.True(f["val_loss_epoch3"] < f["val_loss_epoch1"], $"val loss {f["val_loss_epoch1"]} -> {f["val_loss_epoch3"]}");
        Assert.True(_run.Pretraining.IsCached);
        var again = _run.Pretraining.Run(NullStageProgress.Instance, CancellationToken.None);
        Assert.Equal(1, again.Figures["reused"]);
    }

    [Fact]
    public void TeacherBatchesCoverEveryResponsePositionWithSortedTopK()
    {
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 8);
        using var teacher = new TeacherInference(_run.TeacherDir, _run.Pretraining.TeacherFingerprint, _run.Data.Tokenizer.Hash,
            topK: 4, TokenScope.Response, _run.Data.ImageSize, _run.Data.Tokenizer.PadId);
        var (rows, meta) = TeacherV1.Read(teacher.Infer(source.LoadShard(0)));
        Assert.Equal(8, rows.Count);
        Assert.Equal(4, meta.TopK);
        foreach (var row in rows)
        {
            int responseTokens = row.Sample.LabelsMask.Count(m => m);
            Assert.Equal(responseTokens, row.Positions);
            for (int p = 0; p < row.Positions; p++)
            {
                for (int i = 1; i < 4; i++) Assert.True(row.TopkLogprobs[p * 4 + i] <= row.TopkLogprobs[p * 4 + i - 1]);
                double mass = Enumerable.Range(0, 4).Sum(i => Math.Exp((double)row.TopkLogprobs[p * 4 + i])) + Math.Exp(row.TailLogprob[p]);
                Assert.InRange(mass, 0.99, 1.01); // top-K plus the tail bucket is the whole distribution
            }
        }
    }

    [Fact]
    public void MimicStudentLowersHeldOutKlAndWritesALoadableCheckpoint()
    {
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 16);
        using var teacher = new TeacherInference(_run.TeacherDir, _run.Pretraining.TeacherFingerprint, _run.Data.Tokenizer.Hash,
            topK: 8, TokenScope.Response, _run.Data.ImageSize, _run.Data.Tokenizer.PadId);
        var studentConfig = new VlmConfig(new VisionConfig(16, 8, 16, 32, 1, 2),
            new DecoderConfig(_run.Data.Tokenizer.VocabSize, 24, 48, 1, 2, 1, MaxPositions: 64), _run.Data.Tokenizer.ImageId);
        var options = new MimicOptions(new TrainOptions(3, 16, 3e-3, 0, 2, Seed: 5), KdWeight: 1, CeWeight: 0.1, TokenScope.Response);
        string outDir = _run.Dir.File("student");
        StageOutcome outcome;
        using (var student = new MimicStudent("mimic", studentConfig, options, _run.TeacherDir, source.TrainSamples,
                   source.IsHeldOut, outDir, _run.Data.ImageSize, _run.Data.Tokenizer))
        {
            for (int shard = source.ShardCount - 1; shard >= 0; shard--) // any arrival order works
                student.Consume(shard, teacher.Infer(source.LoadShard(shard)));
            outcome = student.Complete(NullStageProgress.Instance, CancellationToken.None);
        }
        var f = outcome.Figures;
        Assert.True(f["heldout_kl_final"] < f["heldout_kl_epoch0"], $"held-out KL {f["heldout_kl_epoch0"]} -> {f["heldout_kl_final"]}");
        Assert.Equal(source.TrainSamples, (int)f["train_samples"]);
        using var reloaded = Checkpoint.Load(outDir);
        Assert.Equal((long)f["params"], reloaded.ParameterCount());
        Assert.True(File.Exists(Path.Combine(outDir, TeacherPretraining.TokenizerFile)));
    }

    [Fact]
    public void EvaluationScoresEveryFamilyOfTheSplit()
    {
        using var teacher = Checkpoint.Load(_run.TeacherDir);
        var evaluator = new VqaEvaluator(_run.Data, batchSize: 8, maxNewTokens: 12, maxPerFamily: 0,
            family => ShapesChance.ChanceLevel(family, new ShapesOptions { MinObjects = 1, MaxObjects = 3 }));
        var (result, predictions) = evaluator.Evaluate(teacher, "teacher", "test", NullStageProgress.Instance, CancellationToken.None);
        Assert.Equal(_run.Data.Samples("test").Count, predictions.Count);
        Assert.Equal(predictions.Count, result.Families.Sum(f => f.Total));
        Assert.Equal(predictions.Count(p => p.Correct), result.Families.Sum(f => f.Correct));
        Assert.Equal(0.5, result.Families.Single(f => f.Family == "existence").Chance);
        Assert.All(predictions, p => Assert.Equal(AnswerMatch.IsExact(_run.Data.Tokenizer, p.Generated, p.Reference), p.Correct));
    }
}
