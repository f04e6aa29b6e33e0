using Distill.Stages.Scoring;
using Distill.Models.Generation;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Moe;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Preference;
using Distill.Stages.Text;
using Distill.Stages.Training;
using Distill.Stages.Workspace;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Stages.Tests;

/// <summary>The preference stage without actors on a tiny dataset: a teacher and a briefly trained student, pairs
/// mined from the student, scored by the teacher, a few DPO steps, a checkpoint.</summary>
public sealed class PreferenceFlowTests : IClassFixture<PreferenceFlowTests.TinyRun>
{
    public sealed class TinyRun : IDisposable
    {
        public readonly TempDir Dir = new();
        public PreparedData Data { get; }
        public string TeacherDir { get; }
        public string StudentDir { get; }
        public string TeacherFingerprint { get; }
        public static readonly VisionConfig Vision = new(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" };

        public TinyRun()
        {
            var options = new ShapesOptions
            {
                ImageSize = 16, TrainScenes = 48, ValScenes = 8, TestScenes = 4, QuestionsPerScene = 2,
                MinObjects = 1, MaxObjects = 2, Seed = 5,
            };
            var prepared = DataPreparation.Prepare(options, Dir.File("data"), null, Dir.File("tokenizer.json"), Vision.NumPatches);
            Data = prepared.Data;
            TeacherDir = Dir.File("teacher");
            StudentDir = Dir.File("student");
            var teacher = new TeacherPretraining(Data,
                new VlmConfig(Vision, new DecoderConfig(Data.Tokenizer.VocabSize, 32, 64, 2, 2, 1, MaxPositions: 64), Data.ImageTokenId) { VisionFeatureLayer = -1 },
                new TrainOptions(Epochs: 4, BatchSize: 16, LearningRate: 3e-3, WeightDecay: 0, WarmupSteps: 2, Seed: 1),
                TeacherDir, prepared.Fingerprint);
            teacher.Run(NullStageProgress.Instance, CancellationToken.None);
            TeacherFingerprint = teacher.TeacherFingerprint;
            new TeacherPretraining(Data,
                new VlmConfig(Vision, new DecoderConfig(Data.Tokenizer.VocabSize, 24, 48, 1, 2, 1, MaxPositions: 64), Data.ImageTokenId) { VisionFeatureLayer = -1 },
                new TrainOptions(Epochs: 8, BatchSize: 16, LearningRate: 3e-3, WeightDecay: 0, WarmupSteps: 2, Seed: 2),
                StudentDir, prepared.Fingerprint).Run(NullStageProgress.Instance, CancellationToken.None);
            _collected = new Lazy<CandidateShardSource>(Collect);
            _scored = new Lazy<byte[][]>(Score);
        }

        /// <summary>Two dataset pairs plus the pairs mined with <see cref="Mining"/>, collected once.</summary>
        public CandidateShardSource Collected => _collected.Value;

        /// <summary><see cref="Collected"/>'s shards scored by the teacher (preference/v1 batches).</summary>
        public byte[][] Scored => _scored.Value;

        private readonly Lazy<CandidateShardSource> _collected;
        private readonly Lazy<byte[][]> _scored;

        private CandidateShardSource Collect()
        {
            string image = Path.Combine(Data.DatasetDir, "images", "train_00001.png");
            string dataset = Dir.File("pairs.jsonl");
            File.WriteAllText(dataset,
                $"{{\"image\": \"{image}\", \"question\": \"how many objects are there?\", \"chosen\": \"one\", \"rejected\": \"three\"}}\n" +
                $"{{\"image\": \"{image}\", \"question\": \"describe the image.\", \"chosen\": \"a large red circle.\", \"rejected\": \"a small blue square.\"}}\n");
            return PreferencePairCollection.Collect(Data, StudentDir, dataset, Mining(), shardSize: 8, "preference",
                NullStageProgress.Instance, CancellationToken.None);
        }

        private byte[][] Score()
        {
            var source = Collected;
            var batches = new byte[source.ShardCount][];
            using var teacher = new PreferenceTeacher(TeacherDir, TeacherFingerprint, Data.Tokenizer.Hash, Data.ImageFormat, Data.PadId);
            for (int i = 0; i < batches.Length; i++) batches[i] = teacher.Infer(source.LoadShard(i));
            return batches;
        }

        public MiningOptions Mining(bool studentSampled = true, bool hallucination = true) => new(
            SamplesPerPrompt: 4, Temperature: 1.0, TopP: 1.0, MaxNewTokens: 12, Prompts: 200, HeldOutPrompts: 16, BatchSize: 32,
            StudentSampled: studentSampled, Hallucination: hallucination, Seed: 9);

        public void Dispose() => Dir.Dispose();
    }

    private readonly TinyRun _run;
    private readonly ITestOutputHelper _output;
    public PreferenceFlowTests(TinyRun run, ITestOutputHelper output) { _run = run; _output = output; }

    private CandidateShardSource Collect(MiningOptions mining, string? datasetFile = null) =>
        PreferencePairCollection.Collect(_run.Data, _run.StudentDir, datasetFile, mining, shardSize: 8, "preference",
            NullStageProgress.Instance, CancellationToken.None);

    private static List<CandidateRow> AllRows(CandidateShardSource source, bool heldOut = false) =>
        Enumerable.Range(0, source.ShardCount).Where(i => source.IsHeldOut(i) == heldOut)
            .SelectMany(i => CandidatesV1.Read(source.LoadShard(i)).Rows).ToList();

    private string Text(int[] ids) => _run.Data.Tokenizer.Decode(ids);

    [Fact]
    public void Mined_pairs_follow_their_judges_and_are_reproducible()
    {
        var source = _run.Collected;
        var rows = AllRows(source).Where(r => r.Source != PreferenceSources.Dataset).ToList();
        var samples = _run.Data.Samples("train").ToDictionary(s => s.Id);
        var scenes = ShapesDataset.ReadScenes(_run.Data.DatasetDir, "train").ToDictionary(s => s.Image);
        foreach (var g in rows.GroupBy(r => (r.Source, r.IsJudged))) _output.WriteLine($"{g.Key}: {g.Count()}");

        int prompts = _run.Data.Samples("train").Count; // every training sample is eligible, and fewer than 200
        Assert.InRange(prompts, 2, 199);
        Assert.Equal(prompts, source.Figures["mined_prompts"]);
        Assert.Equal(prompts, source.Figures["mined_prompts_skipped"] + rows.Count);
        Assert.Equal(source.TrainPairs, rows.Count + 2);
        Assert.Equal(source.Figures["mined_teacher_judged"], rows.Count(r => !r.IsJudged));
        Assert.Contains(rows, r => r.Source == PreferenceSources.Hallucination);
        Assert.Contains(rows, r => r.Source == PreferenceSources.StudentSampled && r.IsJudged);
        Assert.Contains(rows, r => !r.IsJudged);
        foreach (var row in rows)
        {
            var sample = samples[row.SampleId];
            Assert.Equal(_run.Data.EncodePrompt(sample.Question), row.PromptIds);
            Assert.All(row.Responses, r => Assert.Equal(_run.Data.EosId, r[^1]));
            if (row.Source == PreferenceSources.Hallucination)
            {
                var present = ObjectMentions.InScene(scenes[sample.Image]);
                Assert.Equal("caption", sample.Task);
                Assert.Contains(ObjectMentions.Of(Text(row.Responses[1])), o => !present.Contains(o));
                Assert.All(ObjectMentions.Of(Text(row.Responses[0])), o => Assert.Contains(o, present));
                Assert.StartsWith("hallucinated: ", row.Judge);
            }
            else if (row.IsJudged)
            {
                Assert.NotEqual("caption", sample.Task);
                Assert.True(_run.Data.Answers.IsExact(Text(row.Responses[0]), sample.Answer), row.Judge);
                Assert.False(_run.Data.Answers.IsExact(Text(row.Responses[1]), sample.Answer), row.Judge);
                Assert.StartsWith("ground truth ", row.Judge);
            }
            else
            {
                Assert.Equal("caption", sample.Task); // every other Shapes task has an exact answer
                Assert.InRange(row.Responses.Length, 2, 4);
            }
        }
        Assert.True(source.HeldOutPairs > 0);
        Assert.All(AllRows(source, heldOut: true), r => Assert.StartsWith("val_", r.SampleId));

        var again = AllRows(Collect(_run.Mining())); // same seed, same pairs
        Assert.Equal(rows.Select(r => (r.SampleId, r.Judge, string.Join("|", r.Responses.Select(Text)))),
            again.Select(r => (r.SampleId, r.Judge, string.Join("|", r.Responses.Select(Text)))));
    }

    [Fact]
    public void Hallucination_mining_alone_asks_only_caption_prompts()
    {
        var source = Collect(_run.Mining(studentSampled: false));
        int captions = _run.Data.Samples("train").Count(s => s.Task == "caption");
        Assert.Equal(captions, source.Figures["mined_prompts"]);
        Assert.All(AllRows(source), r => Assert.Equal(PreferenceSources.Hallucination, r.Source));
        Assert.Equal(0, source.Figures["mined_teacher_judged"]);
    }

    [Fact]
    public void Teacher_scores_the_reference_log_probs_and_judges_groups_by_length_normalised_likelihood()
    {
        var source = _run.Collected;
        using var teacher = new PreferenceTeacher(_run.TeacherDir, _run.TeacherFingerprint, _run.Data.Tokenizer.Hash,
            _run.Data.ImageFormat, _run.Data.PadId, maxSequences: 5);
        using var reference = Checkpoint.Load(_run.TeacherDir);
        reference.eval();
        int groups = 0;
        for (int shard = 0; shard < 3; shard++)
        {
            var candidates = CandidatesV1.Read(source.LoadShard(shard)).Rows;
            var (pairs, meta, _) = PreferenceV1.Read(teacher.Infer(source.LoadShard(shard)));
            Assert.Equal(new PreferenceBatchMeta(_run.TeacherFingerprint, _run.Data.Tokenizer.Hash), meta);
            Assert.Equal(candidates.Select(c => c.SampleId), pairs.Select(p => p.SampleId));
            foreach (var (candidate, pair) in candidates.Zip(pairs))
            {
                var sums = candidate.Responses.Select(r => Score(reference, candidate, r)).ToArray();
                if (candidate.IsJudged)
                {
                    Assert.Equal(candidate.Responses[0], pair.ChosenIds);
                    Assert.Equal(candidate.Responses[1], pair.RejectedIds);
                    Assert.Equal(sums[0], pair.RefChosenLogp, 3);
                    Assert.Equal(sums[1], pair.RefRejectedLogp, 3);
                    Assert.Equal(candidate.Judge, pair.Judge);
                    continue;
                }
                groups++;
                int chosen = Array.FindIndex(candidate.Responses, r => r.SequenceEqual(pair.ChosenIds));
                int rejected = Array.FindIndex(candidate.Responses, r => r.SequenceEqual(pair.RejectedIds));
                var means = sums.Select((s, i) => s / candidate.Responses[i].Length).ToArray();
                Assert.Equal(means.Max(), means[chosen], 3);
                Assert.Equal(means.Min(), means[rejected], 3);
                Assert.Equal(sums[chosen], pair.RefChosenLogp, 3);
                Assert.Equal(sums[rejected], pair.RefRejectedLogp, 3);
                Assert.StartsWith("teacher length-normalised log-likelihood ", pair.Judge);
            }
        }
        Assert.True(groups > 0);

        var foreign = CandidatesV1.Write([CandidateRow.Judged("x", new byte[_run.Data.ImageFormat.Bytes], [1, 2], [3, 2], [4, 2], "dataset", "d")],
            new CandidateBatchMeta("another-tokenizer"), _run.Data.ImageFormat.Bytes);
        Assert.Contains("another-tokenizer", Assert.Throws<InvalidDataException>(() => teacher.Infer(foreign)).Message);
    }

    /// <summary>log p(response | image, prompt) under the model, summed, one sequence at a time.</summary>
    private double Score(Distill.Models.VisionLanguageModel model, CandidateRow row, int[] response)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        using var noGrad = TorchSharp.torch.no_grad();
        var pixels = Distill.Models.ImageTensors.FromRgb([row.Image], _run.Data.ImageFormat);
        return model.ScoreResponses(pixels, [row.PromptIds], [response], _run.Data.PadId).Sum.item<float>();
    }

    [Fact]
    public void A_preference_stage_stopped_after_a_saved_epoch_continues_to_the_same_student_bit_for_bit()
    {
        var source = _run.Collected;
        var batches = _run.Scored;
        var options = new PreferenceOptions(new TrainOptions(Epochs: 3, BatchSize: 8, LearningRate: 2e-3, WeightDecay: 0, WarmupSteps: 1, Seed: 3),
            PreferenceLossKind.Sigmoid, Beta: 0.1);
        TrainingStateStore Store(string name) =>
            new(TrainingStateStore.DirectoryOf(_run.Dir.File($"{name}/checkpoints"), "preference"), "preference", "fp");
        StageOutcome Run(string name, IStageProgress progress, CancellationToken cancellation)
        {
            using var student = new PreferenceStudent("preference", _run.StudentDir, options, source.TrainPairs, source.IsHeldOut,
                _run.Dir.File($"{name}/student-pref"), _run.Data.ImageFormat, _run.Data, new KeptShards(_run.Dir.File($"{name}/kept"), replayWindow: 2),
                source.Figures, states: Store(name));
            for (int shard = 0; shard < batches.Length; shard++) student.Consume(shard, batches[shard]); // strict shard order
            return student.Complete(progress, cancellation);
        }

        var reference = Run("pref-reference", NullStageProgress.Instance, CancellationToken.None);
        using (var cts = new CancellationTokenSource())
        {
            var stop = new RecordingProgress(p => { if (p.Phase == TrainingState.SavedPhase && p.Step == 2) cts.Cancel(); });
            Assert.ThrowsAny<OperationCanceledException>(() => Run("pref-resume", stop, cts.Token));
            Assert.Equal([1L, 2L], stop.Reports.Where(p => p.Phase == TrainingState.SavedPhase).Select(p => p.Step));
        }
        var progress = new RecordingProgress(_ => { });
        var resumed = Run("pref-resume", progress, CancellationToken.None);

        Assert.Equal(2, resumed.Figures[TrainingState.ResumedFigure]);
        Assert.Equal([3L], progress.Reports.Where(p => p.Phase == TrainingState.SavedPhase).Select(p => p.Step));
        Assert.Equal(source.TrainPairs / 8 + (source.TrainPairs % 8 == 0 ? 0 : 1), progress.Reports.Count(p => p.Phase == PreferenceStudent.Phase)); // epoch 3 only
        Assert.True(File.ReadAllBytes(_run.Dir.File($"pref-reference/student-pref/{Checkpoint.WeightsFile}"))
            .SequenceEqual(File.ReadAllBytes(_run.Dir.File($"pref-resume/student-pref/{Checkpoint.WeightsFile}"))));
        foreach (var (figure, value) in reference.Figures.Where(f => f.Key != "pairs_per_second"))
            Assert.True(resumed.Figures.TryGetValue(figure, out var actual) && actual.Equals(value), $"{figure}: {value} vs {actual}");
        Assert.False(Directory.Exists(Store("pref-resume").Directory));
    }

    [Theory]
    [InlineData(PreferenceLossKind.Sigmoid)]
    [InlineData(PreferenceLossKind.KtoPair)]
    [InlineData(PreferenceLossKind.Ipo)]
    public void Student_trains_with_no_teacher_on_disk_raises_the_margin_and_writes_a_loadable_checkpoint(PreferenceLossKind loss)
    {
        var source = _run.Collected;
        var batches = _run.Scored;
        string output = _run.Dir.File($"student-pref-{loss}");
        var options = new PreferenceOptions(new TrainOptions(Epochs: 3, BatchSize: 8, LearningRate: 2e-3, WeightDecay: 0, WarmupSteps: 0, Seed: 3), loss, Beta: 0.1);
        StageOutcome outcome;
        string away = _run.TeacherDir + "-away";
        Directory.Move(_run.TeacherDir, away); // the student side must never need a teacher: there is none on disk
        try
        {
            using var student = new PreferenceStudent("preference", _run.StudentDir, options, source.TrainPairs, source.IsHeldOut, output,
                _run.Data.ImageFormat, _run.Data, new KeptShards(_run.Dir.File($"kept-{loss}"), replayWindow: 1), source.Figures);
            for (int shard = batches.Length - 1; shard >= 0; shard--) // any arrival order works
                student.Consume(shard, batches[shard]);
            outcome = student.Complete(NullStageProgress.Instance, CancellationToken.None);
        }
        finally
        {
            Directory.Move(away, _run.TeacherDir);
        }
        var f = outcome.Figures;
        foreach (var kv in f) _output.WriteLine($"{kv.Key} {kv.Value}");
        Assert.Equal(2, f["pairs_dataset"]);
        Assert.Equal(source.TrainPairs, f["train_pairs"]);
        Assert.Equal(source.TrainPairs, f["pairs_dataset"] + f["pairs_student_sampled"] + f["pairs_hallucination"]);
        Assert.Equal(source.HeldOutPairs, f["heldout_pairs"]);
        // The training batches waited on disk as they came and are gone with the stage.
        Assert.Equal(Enumerable.Range(0, batches.Length).Where(i => !source.IsHeldOut(i)).Sum(i => (long)batches[i].Length), f["kept_bytes"]);
        Assert.False(Directory.Exists(_run.Dir.File($"kept-{loss}")));
        // The frozen tower ran once per distinct image of the pairs (training and held-out), not once per step.
        var images = batches.SelectMany(b => PreferenceV1.Read(b).Rows)
            .Select(r => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(r.Image))).Distinct().Count();
        Assert.Equal(images, f["vision_cache_images"]);
        Assert.Equal(source.Figures["mined_prompts"], f["mined_prompts"]);
        Assert.True(f["reward_margin_after"] > f["reward_margin_before"], $"margin {f["reward_margin_before"]} -> {f["reward_margin_after"]}");
        Assert.True(f["accuracy_after"] > f["accuracy_before"], $"accuracy {f["accuracy_before"]} -> {f["accuracy_after"]}");
        Assert.True(f["train_loss_after"] < f["train_loss_before"], $"loss {f["train_loss_before"]} -> {f["train_loss_after"]}");
        Assert.InRange(f["heldout_accuracy_before"], 0, 1);
        Assert.InRange(f["heldout_accuracy_after"], 0, 1);
        Assert.True(double.IsFinite(f["loss_first"]) && double.IsFinite(f["loss_last"]));
        Assert.Equal(outcome.Checkpoint, output);
        using var reloaded = Checkpoint.Load(output);
        Assert.Equal((long)f["params"], reloaded.ParameterCount());
        Assert.True(File.Exists(Path.Combine(output, TeacherPretraining.TokenizerFile)));
    }

    [Fact]
    public void The_sft_weight_lowers_the_chosen_responses_nll_against_the_same_run_without_it()
    {
        var source = _run.Collected;
        var batches = _run.Scored;
        double ChosenNllAfter(double sftWeight)
        {
            var options = new PreferenceOptions(new TrainOptions(Epochs: 3, BatchSize: 8, LearningRate: 2e-3, WeightDecay: 0, WarmupSteps: 0, Seed: 3),
                PreferenceLossKind.Sigmoid, Beta: 0.1, SftWeight: sftWeight);
            using var student = new PreferenceStudent("preference", _run.StudentDir, options, source.TrainPairs, source.IsHeldOut,
                _run.Dir.File($"student-pref-sft-{sftWeight}"), _run.Data.ImageFormat, _run.Data, new KeptShards(_run.Dir.File($"kept-sft-{sftWeight}"), replayWindow: 2), source.Figures);
            for (int shard = 0; shard < batches.Length; shard++) student.Consume(shard, batches[shard]);
            var f = student.Complete(NullStageProgress.Instance, CancellationToken.None).Figures;
            _output.WriteLine($"sft-weight {sftWeight}: chosen nll {f["chosen_nll_before"]} -> {f["chosen_nll_after"]}, loss {f["train_loss_before"]} -> {f["train_loss_after"]}");
            Assert.True(f["chosen_nll_before"] > 0);
            return f["chosen_nll_after"];
        }
        double without = ChosenNllAfter(0.0), with = ChosenNllAfter(2.0);
        Assert.True(with < without, $"chosen NLL after training: {with} with sft-weight 2, {without} without");
    }

    [Fact]
    public void An_moe_student_adds_the_aux_loss_times_its_coefficient()
    {
        string moeDir = _run.Dir.File("student-moe");
        using (var dense = Checkpoint.Load(_run.StudentDir))
        {
            dense.UpcycleToMoe(new MoeConfig(Experts: 2, TopK: 1, Layers: [0], AuxLossCoefficient: 0.01));
            Checkpoint.Save(dense, moeDir);
        }
        byte[] batch = _run.Scored[0];
        var rows = PreferenceV1.Read(batch).Rows;

        double expected, aux;
        using (var copy = Checkpoint.Load(moeDir))
        using (var scope = TorchSharp.torch.NewDisposeScope())
        {
            copy.FreezeVisionTower();
            copy.train();
            var (w, l, rw, rl) = PolicyLogProbs.Of(copy, rows, _run.Data.ImageFormat, _run.Data.PadId);
            aux = copy.MoeAuxLoss().item<float>();
            expected = PreferenceLoss.Compute(PreferenceLossKind.Sigmoid, 0.1, w, l, rw, rl).item<float>() + 0.01 * aux;
        }
        Assert.True(aux > 0);
        // One batch of every pair of the shard: Consume takes its optimiser step and returns its loss.
        var options = new PreferenceOptions(new TrainOptions(1, BatchSize: rows.Count, 1e-3, 0, 0, Seed: 3), PreferenceLossKind.Sigmoid, 0.1);
        using var student = new PreferenceStudent("preference", moeDir, options, rows.Count, _ => false, _run.Dir.File("moe-out"),
            _run.Data.ImageFormat, _run.Data, new KeptShards(_run.Dir.File("moe-kept"), replayWindow: 2));
        Assert.Equal(expected, student.Consume(0, batch).Loss, 5);
    }
}
