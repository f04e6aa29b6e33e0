using Distill.Stages.Scoring;
using Distill.Models.Generation;
using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Moe;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Distillation;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Sources;
using Distill.Stages.Students;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using TorchSharp;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>The stage algorithms end to end on a tiny dataset, without actors: teacher SFT -> teacher/v2 batches ->
/// mimic student (warm-up, D2D, upcycling, D2S) and the SFT baseline -> evaluation. Small models, few steps: checks
/// wiring and that learning happens.</summary>
[Collection(TinyRunCollection.Name)]
public sealed class DistillationFlowTests
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
            var vision = new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" };
            var prepared = DataPreparation.Prepare(options, Dir.File("data"), null, Dir.File("tokenizer.json"), vision.NumPatches);
            Data = prepared.Data;
            TeacherDir = Dir.File("teacher");
            var text = new DecoderConfig(Data.Tokenizer.VocabSize, 32, 64, 2, 2, 1, MaxPositions: 64);
            Pretraining = new TeacherPretraining(Data, new VlmConfig(vision, text, Data.ImageTokenId) { VisionFeatureLayer = -1 },
                new TrainOptions(Epochs: 3, BatchSize: 16, LearningRate: 3e-3, WeightDecay: 0, WarmupSteps: 2, Seed: 1),
                TeacherDir, prepared.Fingerprint);
            TeacherOutcome = Pretraining.Run(NullStageProgress.Instance, CancellationToken.None);
            _mimic = new Lazy<MimicRun>(RunMimic);
        }

        private readonly Lazy<MimicRun> _mimic;
        public MimicRun Mimic => _mimic.Value;

        public static readonly MoeConfig StudentMoe = new(Experts: 4, TopK: 2, AuxLossCoefficient: 0.01);

        /// <summary>The dense student: 2 layers of width 24 (MoE on layer 0 after upcycling).</summary>
        public static VlmConfig StudentConfig(PreparedData data) => new(new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" },
            new DecoderConfig(data.Tokenizer.VocabSize, 24, 48, 2, 2, 1, MaxPositions: 64), data.ImageTokenId)
        { VisionFeatureLayer = -1 };

        /// <param name="Streamed">The progress reports before <c>Complete</c> (warm-up, then the steps of D2D's first
        /// epoch as the shards arrived); <paramref name="Completed"/> those of <c>Complete</c>.</param>
        public sealed record MimicRun(StageOutcome Outcome, MimicOptions Options, string DenseDir, string MoeDir, int TrainSamples,
            IReadOnlyList<StageProgress> Streamed, IReadOnlyList<StageProgress> Completed)
        {
            /// <summary>What the teacher and the student measured of their Arrow encoding and decoding, and the shards.</summary>
            public (ArrowCodecTime Teacher, ArrowCodecTime Student, int Shards) Codec { get; init; }
        }

        /// <summary>Mimic with projector warm-up (1 epoch), D2D (2), upcycling and D2S (2), teacher batches arriving
        /// in shard order.</summary>
        private MimicRun RunMimic()
        {
            var source = new SplitShardSource(Data, "train", "val", shardSize: 16);
            using var teacher = new TeacherInference(TeacherDir, Pretraining.TeacherFingerprint, Data.Tokenizer.Hash,
                topK: 8, TokenScope.Response, Data.ImageFormat, Data.PadId);
            var options = new MimicOptions(new TrainOptions(4, 16, 3e-3, 0, 2, Seed: 5),
                new StudentSchedule(ProjectorWarmupEpochs: 1, DenseEpochs: 2, MoeEpochs: 2, StudentMoe),
                new KdObjective(), KdWeight: 1, CeWeight: 0.1, AuxWeight: 0.01, TokenScope.Response);
            string dense = Dir.File("student-dense"), moe = Dir.File("student-moe");
            var streamed = new RecordingProgress();
            using var student = new MimicStudent("mimic", StudentConfig(Data), options, TeacherDir, source.TrainSamples, source.IsHeldOut,
                SftStudent.Captions(Data, "train"), dense, moe, Data.ImageFormat, Data, source, new KeptShards(Dir.File("kept"), replayWindow: 2),
                streamProgress: streamed);
            for (int shard = 0; shard < source.ShardCount; shard++)
                student.Consume(shard, teacher.Infer(source.LoadShard(shard)));
            var codec = (teacher.ArrowTime, student.ArrowTime, source.ShardCount);
            var completed = new RecordingProgress();
            var outcome = student.Complete(completed, CancellationToken.None);
            return new MimicRun(outcome, options, dense, moe, source.TrainSamples, streamed.Reports, completed.Reports) { Codec = codec };
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly TinyRun _run;
    public DistillationFlowTests(TinyRun run) => _run = run;

    [Fact]
    public void TeacherAndStudentTimeEachArrowEncodeAndDecode()
    {
        var (teacher, student, shards) = _run.Mimic.Codec;
        Assert.Equal(shards, teacher.Decodes);   // each samples/v1 shard read once
        Assert.Equal(shards, teacher.Encodes);   // each teacher/v2 batch written once
        Assert.Equal(shards, student.Decodes);   // each teacher/v2 batch read once
        Assert.Equal(0, student.Encodes);
        Assert.True(teacher.Encode > TimeSpan.Zero && teacher.Decode > TimeSpan.Zero && student.Decode > TimeSpan.Zero);
    }

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
            topK: 4, TokenScope.Response, _run.Data.ImageFormat, _run.Data.PadId);
        var (rows, meta) = TeacherV2.Read(teacher.Infer(source.LoadShard(0)), source);
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
    public void TeacherGeneratedResponsesAreTheTeachersGreedyAnswers()
    {
        const int max = 3, k = 4;
        int eos = _run.Data.EosId, pad = _run.Data.PadId;
        var size = _run.Data.ImageFormat;
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 32);
        using var teacher = new TeacherInference(_run.TeacherDir, _run.Pretraining.TeacherFingerprint, _run.Data.Tokenizer.Hash,
            topK: k, TokenScope.Response, size, pad, generation: new ResponseGeneration(max, eos, EveryRow: true));
        var original = SamplesV1.Read(source.LoadShard(0));
        var (rows, _) = TeacherV2.Read(teacher.Infer(source.LoadShard(0)), source);

        using var model = Checkpoint.Load(_run.TeacherDir);
        model.eval();
        var prompts = original.Select(r => r.Prompt()).ToList();
        IReadOnlyList<int[]> greedy;
        using (var scope = torch.NewDisposeScope())
            greedy = model.GenerateGreedy(ImageTensors.FromRgb(original.Select(r => r.Image).ToList(), size), prompts, max, eos, pad);

        Assert.Equal(original.Count, rows.Count);
        int truncated = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i].Sample;
            Assert.Equal((original[i].SampleId, original[i].Answer, original[i].Task), (row.SampleId, row.Answer, row.Task));
            Assert.Equal(original[i].Image, row.Image);
            Assert.Equal(prompts[i], row.InputIds[..prompts[i].Length]);
            var response = row.InputIds[prompts[i].Length..];
            int[] expected = greedy[i].Length < max ? [.. greedy[i], eos] : greedy[i];
            Assert.Equal(expected, response);
            Assert.Equal(Enumerable.Range(0, row.InputIds.Length).Select(t => t >= prompts[i].Length), row.LabelsMask);
            // Teacher log-probs on the new response: its top-1 at every position is the token it generated.
            Assert.Equal(response.Length, rows[i].Positions);
            for (int p = 0; p < response.Length; p++) Assert.Equal(response[p], rows[i].TopkIds[p * k]);
            if (original[i].LabelsMask.Count(m => m) > max + 1)
            {
                Assert.Equal(max, response.Length);                                   // a long answer is cut at the limit, no eos
                truncated++;
            }
        }
        Assert.True(truncated > 0, "the shard should hold answers longer than the limit (captions)");
    }

    [Fact]
    public void TheTeacherAnswersThePoolsPromptsAndLeavesLabelledRowsAsTheyAre()
    {
        const int max = 3, k = 4;
        int eos = _run.Data.EosId, pad = _run.Data.PadId;
        var size = _run.Data.ImageFormat;
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 16);
        var labelled = SamplesV1.Read(source.LoadShard(0));
        // Odd rows are the unlabelled pool: prompts only.
        var mixed = labelled.Select((r, i) => i % 2 == 1 ? r.PromptOnly() : r).ToList();
        var imageBytes = labelled[0].Image.Length;
        using var teacher = new TeacherInference(_run.TeacherDir, _run.Pretraining.TeacherFingerprint, _run.Data.Tokenizer.Hash,
            topK: k, TokenScope.Response, size, pad, generation: new ResponseGeneration(max, eos));
        var (rows, _) = TeacherV2.Read(teacher.Infer(SamplesV1.Write(mixed, imageBytes)), source);

        using var model = Checkpoint.Load(_run.TeacherDir);
        model.eval();
        var pool = Enumerable.Range(0, mixed.Count).Where(i => i % 2 == 1).ToList();
        IReadOnlyList<int[]> greedy;
        using (var scope = torch.NewDisposeScope())
            greedy = model.GenerateGreedy(ImageTensors.FromRgb(pool.Select(i => mixed[i].Image).ToList(), size),
                pool.Select(i => mixed[i].InputIds).ToList(), max, eos, pad);

        Assert.Equal(mixed.Count, rows.Count);
        for (int i = 0; i < rows.Count; i++)
        {
            var row = rows[i].Sample;
            if (i % 2 == 0)
            {
                Assert.Equal(labelled[i].InputIds, row.InputIds);                      // the dataset's response, untouched
                Assert.Equal(labelled[i].LabelsMask, row.LabelsMask);
                Assert.Equal(labelled[i].Answer, row.Answer);
                continue;
            }
            var prompt = mixed[i].InputIds;
            var g = greedy[pool.IndexOf(i)];
            int[] expected = g.Length < max ? [.. g, eos] : g;
            Assert.Equal([.. prompt, .. expected], row.InputIds);
            Assert.Equal(Enumerable.Range(0, row.InputIds.Length).Select(t => t >= prompt.Length), row.LabelsMask);
            Assert.Null(row.Answer);
            Assert.Equal(expected.Length, rows[i].Positions);
        }
    }

    [Fact]
    public void APromptOnlyRowWithoutGenerationIsAnErrorNamingTheSample()
    {
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 16);
        var rows = SamplesV1.Read(source.LoadShard(0));
        var mixed = rows.Select((r, i) => i == 3 ? r.PromptOnly() : r).ToList();
        using var teacher = new TeacherInference(_run.TeacherDir, _run.Pretraining.TeacherFingerprint, _run.Data.Tokenizer.Hash,
            topK: 4, TokenScope.Response, _run.Data.ImageFormat, _run.Data.PadId);
        var e = Assert.ThrowsAny<Exception>(() => teacher.Infer(SamplesV1.Write(mixed, rows[0].Image.Length)));
        Assert.Contains(rows[3].SampleId, e.Message);
    }

    [Fact]
    public void MimicRunsD2dUpcyclingAndD2sAndWritesBothCheckpoints()
    {
        var mimic = _run.Mimic;
        var f = mimic.Outcome.Figures;
        Assert.Equal(mimic.MoeDir, mimic.Outcome.Checkpoint);
        Assert.Equal(1, f["warmup_epochs"]);
        Assert.Equal(2, f["d2d_epochs"]);
        Assert.Equal(2, f["d2s_epochs"]);
        int stepsPerEpoch = (mimic.TrainSamples + 15) / 16;
        Assert.Equal(2 * stepsPerEpoch, f["d2d_steps"]);
        Assert.Equal(2 * stepsPerEpoch, f["d2s_steps"]);
        Assert.Equal(mimic.TrainSamples, (int)f["train_samples"]);
        Assert.True(f["d2d_heldout_kl_last"] < f["d2d_heldout_kl_first"], $"D2D held-out KL {f["d2d_heldout_kl_first"]} -> {f["d2d_heldout_kl_last"]}");
        Assert.Equal(f["d2d_heldout_kl_first"], f["d2d_heldout_kl_epoch0"]);
        Assert.Equal(f["d2d_heldout_kl_last"], f["d2d_heldout_kl_epoch2"]);
        // Right after upcycling (D2S epoch 0) the MoE student predicts exactly what the dense student did.
        Assert.Equal(f["d2d_heldout_kl_last"], f["d2s_heldout_kl_first"], 4);
        Assert.Equal(f["d2d_heldout_ce_last"], f["d2s_heldout_ce_first"], 4);
        Assert.True(f["d2s_heldout_kl_last"] < f["d2s_heldout_kl_first"] + 0.05, $"D2S held-out KL {f["d2s_heldout_kl_first"]} -> {f["d2s_heldout_kl_last"]}");

        using var dense = Checkpoint.Load(mimic.DenseDir);
        using var moe = Checkpoint.Load(mimic.MoeDir);
        Assert.Null(dense.Config.Text.Moe);
        // Every-other placement reads back as such (config.json lists its layers, layer 0 of 2, and names the placement).
        Assert.Equal(TinyRun.StudentMoe, moe.Config.Text.Moe);
        Assert.Single(MoeLoss.Layers(moe));                                // every other layer of 2: layer 0
        Assert.Equal((long)f["d2d_params_total"], dense.ParameterCount());
        Assert.Equal((long)f["d2s_params_total"], moe.ParameterCount());
        Assert.Equal((long)f["params"], moe.ParameterCount());
        Assert.Equal(f["d2d_params_total"], f["d2d_params_activated"]);
        // Activated: the dense count plus the router (k = 2 of 4 experts: one extra FFN copy per token).
        int d = 24, i = 48;
        Assert.Equal(f["d2d_params_total"] + 3 * d * i + 4 * d, f["d2s_params_activated"]);
        Assert.Equal(f["d2d_params_total"] + 3 * 3 * d * i + 4 * d, f["d2s_params_total"]);
        Assert.True(File.Exists(Path.Combine(mimic.DenseDir, TeacherPretraining.TokenizerFile)));
        Assert.True(File.Exists(Path.Combine(mimic.MoeDir, TeacherPretraining.TokenizerFile)));
    }

    [Fact]
    public void MimicWarmsUpAndTrainsD2dsFirstEpochWhileTheShardsArrive()
    {
        var mimic = _run.Mimic;
        int full = mimic.TrainSamples / 16, perEpoch = (mimic.TrainSamples + 15) / 16;
        Assert.Equal((96, 6, 6), (mimic.TrainSamples, full, perEpoch));   // every batch full (the partial one: StudentTrainingTests)
        // Before Complete: the warm-up, then one D2D step for every full batch that had arrived.
        Assert.Contains(mimic.Streamed, p => p.Phase == ProjectorWarmup.Phase);
        Assert.Equal(Enumerable.Range(1, full).Select(i => (long)i), mimic.Streamed.Where(p => p.Phase == MimicStudent.DensePhase).Select(p => p.Step));
        Assert.All(mimic.Streamed.Where(p => p.Phase == MimicStudent.DensePhase), p => Assert.Equal(2L * perEpoch, p.TotalSteps));
        // Complete: the held-out start (on the weights from before the stream) and after epoch 1, then epoch 2.
        var completed = mimic.Completed.Where(p => p.Phase.StartsWith(MimicStudent.DensePhase)).Select(p => (p.Phase, p.Step)).ToList();
        Assert.Equal([("d2d-heldout", 0L), ("d2d-heldout", 1L), ("d2d", full + 1L)], completed.Take(3));
        Assert.DoesNotContain(mimic.Completed, p => p.Phase == ProjectorWarmup.Phase);
    }

    [Fact]
    public void TheDenseCheckpointUpcycledHasTheDenseLogits()
    {
        using var dense = Checkpoint.Load(_run.Mimic.DenseDir);
        using var upcycled = Checkpoint.Load(_run.Mimic.DenseDir);
        StudentModels.Upcycle(upcycled, TinyRun.StudentMoe, seed: 5);
        dense.eval();
        upcycled.eval();
        var rows = _run.Data.Rows("val").Take(6).ToList();
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var batch = TrainingBatch.Collate(rows, _run.Data.ImageFormat, _run.Data.PadId, TokenScope.All);
        var a = dense.Forward(batch.Pixels, batch.InputIds);
        var b = upcycled.Forward(batch.Pixels, batch.InputIds);
        Assert.True((a - b).abs().max().item<float>() < 1e-5f);
        Assert.Equal(0, MoeLoss.Layers(upcycled).Sum(m => m.LastRouting!.Dropped));     // eval capacity factor 0: nothing dropped
    }

    [Fact]
    public void SftBaselineHasTheMoeStudentsArchitectureAndBudget()
    {
        var mimic = _run.Mimic;
        string dir = _run.Dir.File("sft");
        var sft = new SftStudent("sft", _run.Data, TinyRun.StudentConfig(_run.Data), mimic.Options.Schedule, mimic.Options.Train,
            mimic.Options.AuxWeight, _run.TeacherDir, dir);
        var outcome = sft.Run(NullStageProgress.Instance, CancellationToken.None);
        var f = outcome.Figures;
        Assert.Equal(dir, outcome.Checkpoint);
        foreach (var (mine, theirs) in new[] { ("warmup", "warmup"), ("dense", "d2d"), ("moe", "d2s") })
        {
            Assert.Equal(mimic.Outcome.Figures[$"{theirs}_epochs"], f[$"{mine}_epochs"]);
            Assert.Equal(mimic.Outcome.Figures[$"{theirs}_params_total"], f[$"{mine}_params_total"]);
        }
        Assert.Equal(mimic.Outcome.Figures["d2d_steps"], f["dense_steps"]);
        Assert.Equal(mimic.Outcome.Figures["d2s_steps"], f["moe_steps"]);
        Assert.True(f["dense_heldout_ce_last"] < f["dense_heldout_ce_first"]);
        Assert.Equal(f["dense_heldout_ce_last"], f["moe_heldout_ce_first"], 4);      // upcycling keeps the function
        Assert.False(f.ContainsKey("dense_heldout_kl_first"));                         // no teacher signal at all

        using var sftModel = Checkpoint.Load(dir);
        using var moeModel = Checkpoint.Load(mimic.MoeDir);
        Assert.Equal(moeModel.Config, sftModel.Config);
        Assert.Equal(
            moeModel.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))),
            sftModel.named_parameters().Select(p => (p.name, string.Join("x", p.parameter.shape))));
        // The vision tower is the teacher's, frozen, in both.
        using var teacher = Checkpoint.Load(_run.TeacherDir);
        var teacherVision = teacher.VisionTower.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in sftModel.VisionTower.named_parameters())
            Assert.Equal(0f, (parameter - teacherVision[name]).abs().max().item<float>());
        Assert.True(File.Exists(Path.Combine(dir, TeacherPretraining.TokenizerFile)));
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
        Assert.All(predictions, p => Assert.Equal(_run.Data.Answers.IsExact(p.Generated, p.Reference), p.Correct));
    }
}

/// <summary>The tests that share one <see cref="DistillationFlowTests.TinyRun"/> (dataset, teacher, mimic run).</summary>
[CollectionDefinition(Name)]
public sealed class TinyRunCollection : ICollectionFixture<DistillationFlowTests.TinyRun>
{
    public const string Name = "tiny-run";
}
