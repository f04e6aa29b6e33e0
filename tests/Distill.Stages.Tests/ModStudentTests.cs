using Distill.Models;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Mod;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Distillation;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Mod;
using Distill.Stages.Sources;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>The mod stage's student step on a tiny dataset, without actors: conversion, plan, masked routing learning
/// from teacher batches, checkpoint, and its measurements. Teacher and input student are seeded random models (what is
/// tested is the wiring, the conversion and the checkpoint, not learning).</summary>
public sealed class ModStudentTests : IClassFixture<ModStudentTests.TinyModRun>
{
    public sealed class TinyModRun : IDisposable
    {
        public readonly TempDir Dir = new();
        public PreparedData Data { get; }
        public string TeacherDir { get; }
        public string Checkpoints { get; }
        public string StudentDir { get; }
        public VlmConfig StudentConfig { get; }

        public TinyModRun()
        {
            var options = new ShapesOptions
            {
                ImageSize = 16, TrainScenes = 24, ValScenes = 4, TestScenes = 6, QuestionsPerScene = 2,
                MinObjects = 1, MaxObjects = 3, Seed = 5,
            };
            var vision = new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" };         // 4 image tokens
            var prepared = DataPreparation.Prepare(options, Dir.File("data"), null, Dir.File("tokenizer.json"), vision.NumPatches);
            Data = prepared.Data;
            int vocab = Data.Tokenizer.VocabSize, image = Data.ImageTokenId;
            TeacherDir = Dir.File("teacher");
            manual_seed(11);
            using (var teacher = new VisionLanguageModel(new VlmConfig(vision, new DecoderConfig(vocab, 32, 64, 2, 2, 1, MaxPositions: 64), image) { VisionFeatureLayer = -1 }))
                Checkpoint.Save(teacher, TeacherDir);
            Checkpoints = Dir.File("checkpoints");
            StudentDir = Path.Combine(Checkpoints, "student");
            StudentConfig = new VlmConfig(vision, new DecoderConfig(vocab, 24, 48, 3, 2, 1, MaxPositions: 64), image) { VisionFeatureLayer = -1 };
            manual_seed(12);
            using (var student = new VisionLanguageModel(StudentConfig)) Checkpoint.Save(student, StudentDir);
        }

        public void Dispose() => Dir.Dispose();
    }

    private readonly TinyModRun _run;
    public ModStudentTests(TinyModRun run) => _run = run;

    private static ModOptions Options(double skip = 0.5, int keepFirst = 1, int keepLast = 1, double fraction = 0.34, int epochs = 1) =>
        new(new TrainOptions(epochs, BatchSize: 8, LearningRate: 1e-3, WeightDecay: 0, WarmupSteps: 1, Seed: 7),
            SkipRatio: skip, KeepFirst: keepFirst, KeepLast: keepLast, TargetFraction: fraction, CalibrationSamples: 6,
            RoutingLossWeight: 0.01, RouterLearningRate: 1e-2, KdWeight: 1, CeWeight: 0.1, PrefillThreshold: 0.005, DecodeThreshold: 0.5, TokenScope.Response);

    private ModStudent Student(ModOptions options, string name, SplitShardSource? source = null, int latencyRepeats = 0, VqaEvaluator? evaluator = null,
        TrainingStateStore? states = null)
    {
        source ??= new SplitShardSource(_run.Data, "train", "val", shardSize: 8);
        return new ModStudent("mod", _run.StudentDir, options, new ModMeasureOptions(PromptBatch: 5, latencyRepeats, LatencyThreads: 1), _run.Data,
            source, new KeptShards(_run.Dir.File($"{name}/kept"), replayWindow: 2), source.TrainSamples, source.IsHeldOut, _run.Dir.File($"{name}/student-mod"), _run.Dir.File($"{name}/mod/plan.json"), evaluator,
            states: states);
    }

    /// <summary>Pixels and prompts of the first test rows.</summary>
    private (Tensor Pixels, Tensor Ids) Batch(int rows)
    {
        var test = _run.Data.Rows("test").Take(rows).ToList();
        var ids = test.Select(r => r.InputIds).ToList();
        int t = ids.Min(i => i.Length);
        return (ImageTensors.FromRgb(test.Select(r => r.Image).ToList(), _run.Data.ImageFormat),
            tensor(ids.SelectMany(i => i.Take(t).Select(x => (long)x)).ToArray(), [rows, t]));
    }

    [Fact]
    public void ConvertedStudentWithSkipZeroEqualsTheInputStudent()
    {
        using var scope = NewDisposeScope();
        using var student = Student(Options(skip: 0, keepFirst: 0, keepLast: 0, fraction: 1.0), "skip0");
        using var input = Checkpoint.Load(_run.StudentDir);
        Assert.Equal(new[] { 0, 1, 2 }, student.Student.Config.Text.Mod!.Layers);
        Assert.Equal(3, student.Student.ModLayers.Count);
        Assert.NotNull(student.Student.ModRouter);
        // Skip 0 processes every token; without the router scaling of the MLP the layers are the dense ones.
        foreach (var layer in student.Student.ModLayers) layer.ScaleMlpByRouter = false;
        var (pixels, ids) = Batch(3);
        using var noGrad = no_grad();
        input.eval();
        var expected = input.Forward(pixels, ids);
        foreach (var training in new[] { true, false })                  // masked top-k and the eval thresholds
        {
            student.Student.train(training);
            var actual = student.Student.Forward(pixels, ids);
            Assert.True((actual - expected).abs().max().item<float>() < 1e-5f, $"training={training}");
            Assert.All(student.Student.ModLayers, l => Assert.True(l.LastProcessed!.all().item<bool>()));
        }
        // With the router scaling on (the default), the MLP output is scaled by p ~ 0.5: not the dense model any more.
        foreach (var layer in student.Student.ModLayers) layer.ScaleMlpByRouter = true;
        Assert.True((student.Student.Forward(pixels, ids) - expected).abs().max().item<float>() > 1e-3f);
    }

    [Fact]
    public void ThePlanHoldsEveryLayersARankConvertsTheEligibleOnesAndIsWrittenAsJson()
    {
        var options = Options(keepFirst: 1, keepLast: 1, fraction: 0.34);               // 3 layers: only layer 1 is eligible
        using var student = Student(options, "plan");
        Assert.Equal(new[] { 1 }, student.Plan.Converted);
        Assert.Equal(new[] { 1 }, student.Student.Config.Text.Mod!.Layers);
        Assert.Equal(options.ConfigFor([1]), student.Student.Config.Text.Mod);

        // The ARank values are those of the input student on the seeded calibration sample.
        using var input = Checkpoint.Load(_run.StudentDir);
        var calibration = TeacherPretraining.Shuffled(_run.Data.Rows("train"), 7).Take(6).ToList();
        var expected = AttentionRank.Measure(input, calibration, _run.Data.ImageFormat, _run.Data.PadId, batchSize: 4);
        Assert.Equal(expected.Length, student.Plan.Layers.Count);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], student.Plan.Layers[i].ARank, 9);

        var written = ModPlan.FromJson(File.ReadAllText(_run.Dir.File("plan/mod/plan.json")), "plan.json");
        Assert.Equal(student.Plan.Layers, written.Layers);
        Assert.Equal(new[] { 1 }, written.Converted);
        Assert.Equal((6, _run.StudentDir), (written.CalibrationSamples, written.InputCheckpoint));
    }

    [Fact]
    public void StageTrainsFromTeacherBatchesWritesStudentModAndTheReloadedModelGivesTheSameLogits()
    {
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 8);
        using var teacher = new TeacherInference(_run.TeacherDir, "teacher-fp", _run.Data.Tokenizer.Hash, topK: 4,
            TokenScope.Response, _run.Data.ImageFormat, _run.Data.PadId);
        var evaluator = new VqaEvaluator(_run.Data, batchSize: 8, maxNewTokens: 4, maxPerFamily: 0,
            family => ShapesChance.ChanceLevel(family, new ShapesOptions { MinObjects = 1, MaxObjects = 3 }));
        var options = Options(skip: 0.5, keepFirst: 0, keepLast: 1, fraction: 0.67, epochs: 2); // 2 of 3 layers
        StageOutcome outcome;
        VisionLanguageModel trained;
        torch.set_num_threads(2);
        int threads = torch.get_num_threads();
        var outDir = _run.Dir.File("e2e/student-mod");
        using (var student = Student(options, "e2e", source, latencyRepeats: 1, evaluator))
        {
            long keptBytes = 0;
            for (int shard = source.ShardCount - 1; shard >= 0; shard--)
            {
                var batch = teacher.Infer(source.LoadShard(shard));
                if (!source.IsHeldOut(shard)) keptBytes += batch.Length;
                student.Consume(shard, batch);
            }
            Assert.Equal(source.ShardCount - Enumerable.Range(0, source.ShardCount).Count(source.IsHeldOut),
                Directory.GetFiles(_run.Dir.File("e2e/kept"), "*.arrow").Length);              // training shards wait on disk
            outcome = student.Complete(NullStageProgress.Instance, CancellationToken.None);
            Assert.Equal(keptBytes, outcome.Figures["kept_bytes"]);
            Assert.False(Directory.Exists(_run.Dir.File("e2e/kept")));                           // removed when the stage is done
            Assert.Equal(new[] { 0, 1 }, student.Plan.Converted);
            trained = student.Student;
            var f = outcome.Figures;
            Assert.Equal(outDir, outcome.Checkpoint);

            // Every layer's ARank and conversion flag, and the routing / cost / latency / accuracy figures.
            for (int i = 0; i < 3; i++)
            {
                Assert.Equal(student.Plan.Layers[i].ARank, f[$"arank.layer{i}"]);
                Assert.Equal(i < 2 ? 1 : 0, f[$"converted.layer{i}"]);
            }
            Assert.Equal((3, 2), ((int)f["layers"], (int)f["converted_layers"]));
            Assert.True(double.IsFinite(f["routing_loss_first"]) && double.IsFinite(f["routing_loss_last"]));
            Assert.True(f.ContainsKey("routing_loss_epoch1") && f.ContainsKey("routing_loss_epoch2"));
            Assert.True(f["heldout_kl_final"] >= 0 && f.ContainsKey("heldout_kl_input") && f.ContainsKey("heldout_kl_epoch0"));
            Assert.Equal(source.TrainSamples, (int)f["train_samples"]);
            // The frozen tower ran once per distinct image of the training and held-out shards.
            var images = Enumerable.Range(0, source.ShardCount).SelectMany(i => SamplesV1.Read(source.LoadShard(i)))
                .Select(r => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(r.Image))).Distinct().Count();
            Assert.Equal(images, f["vision_cache_images"]);
            foreach (var layer in new[] { 0, 1 }) Assert.InRange(f[$"image_keep_share.layer{layer}"], 0, 1);
            Assert.False(f.ContainsKey("image_keep_share.layer2"));
            Assert.Equal((f["image_keep_share.layer0"] + f["image_keep_share.layer1"]) / 2, f["image_keep_share"], 12);
            int textTokens = (int)Math.Round(_run.Data.Rows("test").Average(r => r.InputIds.Length - _run.Data.ImageTokens));
            Assert.Equal(ModMeasurement.DecoderFlops(_run.StudentConfig, textTokens), f["decoder_flops_before"]);
            Assert.Equal(ModMeasurement.DecoderFlops(trained.Config, textTokens,
                new Dictionary<int, double> { [0] = f["image_keep_share.layer0"], [1] = f["image_keep_share.layer1"] }), f["decoder_flops_after"]);
            Assert.Equal(1 - f["decoder_flops_after"] / f["decoder_flops_before"], f["decoder_flops_reduction"], 12);
            Assert.True(f["prefill_ms_before"] > 0 && f["prefill_ms_after"] > 0 && f["lm_prefill_ms_after"] > 0);
            Assert.True(f["prefill_cpu_ms_before"] >= 0 && f["prefill_cpu_ms_after"] >= 0);
            Assert.Equal(5, f["prefill_batch"]);
            Assert.Equal(1, f["latency_threads"]);
            Assert.Equal(threads, torch.get_num_threads());                     // restored after the measurement
            Assert.InRange(f["accuracy_before"], 0, 1);
            Assert.Equal((f["accuracy_after"] - f["accuracy_before"]) * 100, f["accuracy_change_points"], 9);

            // The checkpoint: MoD config, tokenizer, same logits after a reload.
            Assert.True(File.Exists(Path.Combine(outDir, TeacherPretraining.TokenizerFile)));
            using var reloaded = Checkpoint.Load(outDir);
            Assert.Equal(trained.Config, reloaded.Config);
            Assert.Equal(options.ConfigFor([0, 1]), reloaded.Config.Text.Mod);
            Assert.Equal((long)f["params"], reloaded.ParameterCount());
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var (pixels, ids) = Batch(4);
            trained.eval();
            reloaded.eval();
            Assert.Equal(0f, (trained.Forward(pixels, ids) - reloaded.Forward(pixels, ids)).abs().max().item<float>());
        }
    }

    [Fact]
    public void A_mod_stage_stopped_after_a_saved_epoch_continues_to_the_same_student_bit_for_bit()
    {
        var options = Options(skip: 0.5, keepFirst: 0, keepLast: 1, fraction: 0.67, epochs: 3);
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 8);
        byte[][] batches;
        using (var teacher = new TeacherInference(_run.TeacherDir, "teacher-fp", _run.Data.Tokenizer.Hash, topK: 4,
                   TokenScope.Response, _run.Data.ImageFormat, _run.Data.PadId))
            batches = Enumerable.Range(0, source.ShardCount).Select(i => teacher.Infer(source.LoadShard(i))).ToArray();
        TrainingStateStore Store(string name) => new(TrainingStateStore.DirectoryOf(_run.Dir.File($"{name}/checkpoints"), "mod"), "mod", "fp");
        StageOutcome Run(string name, IStageProgress progress, CancellationToken cancellation)
        {
            using var student = Student(options, name, source, states: Store(name));
            for (int shard = 0; shard < source.ShardCount; shard++) student.Consume(shard, batches[shard]); // strict shard order
            return student.Complete(progress, cancellation);
        }

        var reference = Run("resume-reference", NullStageProgress.Instance, CancellationToken.None);
        using (var cts = new CancellationTokenSource())
        {
            var stop = new RecordingProgress(p => { if (p.Phase == TrainingState.SavedPhase && p.Step == 2) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => Run("resume", stop, cts.Token));
        }
        Assert.True(File.Exists(Path.Combine(Store("resume").Directory, TrainingStateStore.StateFile)));
        var progress = new RecordingProgress(_ => { });
        var resumed = Run("resume", progress, CancellationToken.None);

        Assert.Equal(2, resumed.Figures[TrainingState.ResumedFigure]);
        Assert.Equal([3L], progress.Reports.Where(p => p.Phase == TrainingState.SavedPhase).Select(p => p.Step));
        Assert.True(File.ReadAllBytes(_run.Dir.File($"resume-reference/student-mod/{Checkpoint.WeightsFile}"))
            .SequenceEqual(File.ReadAllBytes(_run.Dir.File($"resume/student-mod/{Checkpoint.WeightsFile}"))));
        foreach (var (figure, value) in reference.Figures.Where(f => f.Key != "samples_per_second"))
            Assert.True(resumed.Figures.TryGetValue(figure, out var actual) && actual.Equals(value), $"{figure}: {value} vs {actual}");
        Assert.True(resumed.Figures["samples_per_second"] > 0);                         // epoch 3 trained in this process
        Assert.False(Directory.Exists(Store("resume").Directory));
        Assert.False(Directory.Exists(Store("resume-reference").Directory));
    }

    [Fact]
    public void TrainingChangesTheRouterAndTheRoutingLossIsPartOfTheObjective()
    {
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 8);
        using var teacher = new TeacherInference(_run.TeacherDir, "teacher-fp", _run.Data.Tokenizer.Hash, topK: 4,
            TokenScope.Response, _run.Data.ImageFormat, _run.Data.PadId);
        using var student = Student(Options(skip: 0.5, keepFirst: 0, keepLast: 0, fraction: 1.0), "router", source);
        var before = student.Student.ModRouter!.Weight.detach().clone();
        student.Consume(0, teacher.Infer(source.LoadShard(0)));
        var after = student.Student.ModRouter!.Weight;
        Assert.True((after - before).abs().max().item<float>() > 0);
        // Masked top-k in training: half of each row's 4 image tokens went through every MoD layer.
        Assert.All(student.Student.ModLayers, l => Assert.All(l.LastRouting!.CompetingProcessed, c => Assert.Equal(2, c)));
        before.Dispose();
    }

    [Fact]
    public void AStudentThatIsMoDAlreadyIsRefused()
    {
        var dir = _run.Dir.File("mod-input");
        manual_seed(3);
        using (var model = new VisionLanguageModel(_run.StudentConfig).ConvertToMod(new ModConfig([1])))
            Checkpoint.Save(model, dir);
        var source = new SplitShardSource(_run.Data, "train", "val", shardSize: 8);
        var error = Assert.Throws<InvalidDataException>(() => new ModStudent("mod", dir, Options(), new ModMeasureOptions(4, 0), _run.Data,
            source, new KeptShards(_run.Dir.File("refused/kept"), replayWindow: 2), source.TrainSamples, source.IsHeldOut, _run.Dir.File("refused/out"), _run.Dir.File("refused/plan.json")));
        Assert.Contains(dir, error.Message);
        Assert.Contains("MoD already", error.Message);
    }

    [Fact]
    public void TheNewestStudentCheckpointIsConverted()
    {
        using var dir = new TempDir();
        var error = Assert.Throws<FileNotFoundException>(() => ModInput.Newest(dir.Path));
        foreach (var name in ModInput.Candidates) Assert.Contains(Path.Combine(dir.Path, name), error.Message);

        void Make(string name)
        {
            Directory.CreateDirectory(dir.File(name));
            File.WriteAllText(Path.Combine(dir.File(name), Checkpoint.WeightsFile), "");
            File.WriteAllText(Path.Combine(dir.File(name), Checkpoint.ConfigFile), "{}");
        }
        Make("student");
        Assert.Equal(dir.File("student"), ModInput.Newest(dir.Path));
        Make("student-dense");
        Assert.Equal(dir.File("student-dense"), ModInput.Newest(dir.Path));
        Directory.CreateDirectory(dir.File("student-pref"));                    // incomplete: no weights
        Assert.Equal(dir.File("student-dense"), ModInput.Newest(dir.Path));
        Make("student-moe");
        Assert.Equal(dir.File("student-moe"), ModInput.Newest(dir.Path));
        Make("student-pref");
        Assert.Equal(dir.File("student-pref"), ModInput.Newest(dir.Path));
        Make("student-mod");                                                   // never an input
        Assert.Equal(dir.File("student-pref"), ModInput.Newest(dir.Path));
    }

    [Fact]
    public void DecoderFlopsCountTheKeptImageTokensOfEachModLayer()
    {
        // d = 24, 2 heads of 12 (q = 24), 1 kv head (kv = 12), FFN 48; 4 image + 3 text tokens; MoD layer 1.
        var text = new DecoderConfig(VocabSize: 20, HiddenSize: 24, IntermediateSize: 48, Layers: 2, Heads: 2, KvHeads: 1,
            Mod: new ModConfig([1], SkipRatio: 0.75));
        var config = new VlmConfig(new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" }, text, ImageTokenId: 4) { VisionFeatureLayer = -1 };
        long all = ModMeasurement.DecoderFlops(config, 3, new Dictionary<int, double> { [1] = 1.0 });
        long half = ModMeasurement.DecoderFlops(config, 3, new Dictionary<int, double> { [1] = 0.5 });
        // Layer 1 processes 7 tokens instead of 5, i.e. 2 more: per token q/k/v/o 2*24*24 + 2*(2*24*12) + 2*24*24 = 3456,
        // SwiGLU 3*2*24*48 = 6912; causal attention 2*q*p*(p+1): 48*(7*8 - 5*6) = 1248.
        Assert.Equal(2 * 3456 + 2 * 6912 + 1248, all - half);
        // Without a measured share the layer keeps 1 - skip ratio: ceil(0.25 * 4) = 1 image token.
        long trained = ModMeasurement.DecoderFlops(config, 3);
        long one = ModMeasurement.DecoderFlops(config, 3, new Dictionary<int, double> { [1] = 0.25 });
        Assert.Equal(one, trained);
        // The dense model: both layers over 7 tokens; the MoD router costs 2*T*d*2 = 2*7*24*2 = 672 on top.
        var dense = config with { Text = text with { Mod = null } };
        Assert.Equal(ModMeasurement.DecoderFlops(dense, 3) + 672, all);
    }
}
