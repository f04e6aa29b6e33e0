using Distill.Models;
using Distill.Models.Checkpoints;
using Distill.Stages.Arrow;
using Distill.Stages.Distillation;
using Distill.Stages.Flow;
using Distill.Stages.Students;
using Distill.Stages.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace Distill.Stages.Tests;

/// <summary>The pieces of a student's curriculum: creation from the teacher's tower, the vision feature cache,
/// projector warm-up, the phase runner and the schedule's rules.</summary>
[Collection(TinyRunCollection.Name)]
public sealed class StudentTrainingTests(DistillationFlowTests.TinyRun run)
{
    private VisionLanguageModel NewStudent(int seed = 5) =>
        StudentModels.Create(DistillationFlowTests.TinyRun.StudentConfig(run.Data), run.TeacherDir, seed, placement: null);

    private static Dictionary<string, Tensor> Snapshot(VisionLanguageModel model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());

    [Fact]
    public void A_new_student_has_the_teachers_tower_frozen_and_the_same_seed_gives_the_same_weights()
    {
        using var a = NewStudent();
        using var b = NewStudent();
        using var teacher = Checkpoint.Load(run.TeacherDir);
        var tower = teacher.VisionTower.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in a.VisionTower.named_parameters())
        {
            Assert.False(parameter.requires_grad);
            Assert.Equal(0f, (parameter - tower[name]).abs().max().item<float>());
        }
        Assert.All(a.named_parameters().Where(p => !p.name.StartsWith("vision_tower.")), p => Assert.True(p.parameter.requires_grad, p.name));
        var other = b.named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, parameter) in a.named_parameters())
            Assert.Equal(0f, (parameter - other[name]).abs().max().item<float>());
    }

    [Fact]
    public void The_cached_forward_equals_the_plain_forward_and_one_scene_is_one_entry()
    {
        using var model = NewStudent();
        model.eval();
        using var cache = new VisionFeatureCache();
        var student = new Student(model, cache);
        var rows = run.Data.Rows("train").Take(8).ToList();
        int images = rows.Select(r => Convert.ToBase64String(r.Image)).Distinct().Count();
        Assert.True(images < rows.Count, "two questions per scene: some rows share an image");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        using var batch = TrainingBatch.Collate(rows, run.Data.ImageFormat, run.Data.PadId, TokenScope.Response);
        var plain = model.Forward(batch.Pixels, batch.InputIds);
        var cached = student.Logits(batch, rows);                 // computes the features
        var again = student.Logits(batch, rows);                  // reads them
        Assert.Equal(images, cache.Count);
        Assert.Equal(images * 4L * 16 * sizeof(float), cache.Bytes); // 4 patches of width 16 per image
        Assert.True((plain - cached).abs().max().item<float>() < 1e-5f);
        Assert.Equal(0f, (cached - again).abs().max().item<float>());
    }

    [Fact]
    public void Over_its_budget_the_cache_keeps_nothing_and_gives_the_same_features()
    {
        using var model = NewStudent();
        using var cache = new VisionFeatureCache(maxBytes: 100);
        var rows = run.Data.Rows("train").Take(4).ToList();
        using var scope = torch.NewDisposeScope();
        using var batch = TrainingBatch.Collate(rows, run.Data.ImageFormat, run.Data.PadId, TokenScope.Response);
        var patches = cache.Patches(model, rows, batch.Pixels);
        Assert.Equal(0, cache.Count);
        using var noGrad = torch.no_grad();
        Assert.True((patches - model.SelectImageFeatures(batch.Pixels)).abs().max().item<float>() < 1e-6f);
    }

    [Fact]
    public void The_cache_refuses_a_trainable_tower()
    {
        using var model = NewStudent();
        foreach (var p in model.VisionTower.parameters()) p.requires_grad = true;
        using var cache = new VisionFeatureCache();
        var rows = run.Data.Rows("train").Take(2).ToList();
        using var batch = TrainingBatch.Collate(rows, run.Data.ImageFormat, run.Data.PadId, TokenScope.Response);
        Assert.Throws<InvalidOperationException>(() => cache.Patches(model, rows, batch.Pixels));
    }

    [Fact]
    public void Projector_warmup_trains_only_the_projector_on_captions_then_unfreezes_the_language_model()
    {
        using var model = NewStudent();
        using var cache = new VisionFeatureCache();
        var before = Snapshot(model);
        var captions = SftStudent.Captions(run.Data, "train");
        Assert.NotEmpty(captions);
        Assert.All(captions, c => Assert.Equal("caption", c.Task));
        var result = ProjectorWarmup.Run(new Student(model, cache), "mimic", epochs: 1, new TrainOptions(1, 8, 3e-3, 0, 1, Seed: 5),
            captions, run.Data.ImageFormat, run.Data.PadId, NullStageProgress.Instance, CancellationToken.None);

        Assert.Equal((captions.Count + 7) / 8, result.Steps);
        foreach (var (name, parameter) in model.named_parameters())
        {
            float change = (parameter - before[name]).abs().max().item<float>();
            if (name.StartsWith("multi_modal_projector.")) Assert.True(change > 0, $"{name} did not train");
            else Assert.True(change == 0, $"{name} changed by {change}");
            Assert.Equal(!name.StartsWith("vision_tower."), parameter.requires_grad);
        }
        var none = Assert.Throws<InvalidOperationException>(() => ProjectorWarmup.Run(new Student(model, cache), "mimic", 1,
            new TrainOptions(1, 8, 3e-3, 0, 1, 5), [], run.Data.ImageFormat, run.Data.PadId, NullStageProgress.Instance, CancellationToken.None));
        Assert.Contains("distill.mimic.projector-warmup-epochs", none.Message);
    }

    [Fact]
    public void A_phase_reports_every_step_and_each_heldout_measurement_and_stops_on_a_non_finite_loss()
    {
        using var model = NewStudent();
        using var cache = new VisionFeatureCache();
        var student = new Student(model, cache);
        var rows = run.Data.Rows("train").Take(20).ToList();
        var progress = new RecordingProgress();
        int measured = 0;
        var spec = new PhaseSpec("sft", "dense", Epochs: 2, new TrainOptions(2, 8, 1e-3, 0, 1, 5), ShuffleSeed: 3);
        var result = TrainingPhase.Run(model, spec, rows, batch => SftLoss.Compute(student, batch, run.Data.ImageFormat, run.Data.PadId, 0),
            () => [("metric", ++measured)], progress, CancellationToken.None);

        Assert.Equal(6, result.Steps);                                     // ceil(20 / 8) = 3 per epoch
        Assert.Equal(40, result.Samples);
        Assert.Equal(2, result.EpochLosses.Count);
        Assert.Equal([1.0, 2.0, 3.0], result.HeldOut["metric"]);             // before training and after each epoch
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), progress.Reports.Where(p => p.Phase == "dense").Select(p => p.Step));
        Assert.All(progress.Reports.Where(p => p.Phase == "dense"), p => Assert.Equal(6, p.TotalSteps));
        Assert.Equal([0L, 1, 2], progress.Reports.Where(p => p.Phase == "dense-heldout").Select(p => p.Step));
        var figures = new Dictionary<string, double>();
        result.AddFigures(figures);
        Assert.Equal((2, 6, 1, 3, 1, 2, 3), (figures["dense_epochs"], figures["dense_steps"], figures["dense_metric_first"],
            figures["dense_metric_last"], figures["dense_metric_epoch0"], figures["dense_metric_epoch1"], figures["dense_metric_epoch2"]));
        Assert.Equal(result.EpochLosses[0], figures["dense_loss_first"]);
        Assert.Equal(model.ParameterCount(), figures["dense_params_total"]);

        var nan = Assert.Throws<InvalidOperationException>(() => TrainingPhase.Run(model, spec, rows,
            _ => torch.tensor(float.NaN).requires_grad_(true), null, progress, CancellationToken.None));
        Assert.Contains("sft dense: the loss is NaN at epoch 1, step 1", nan.Message);
    }

    /// <summary>Warm-up 1, dense 2, MoE 1 epochs of SFT on 40 training rows (batch 16: two full batches and one of 8
    /// per epoch), held-out CE on 16 validation rows; the weights saved after each phase.</summary>
    private (Dictionary<string, double> Figures, Dictionary<string, float[]> Weights, IReadOnlyList<StageProgress> Streamed) Curriculum(
        Func<StudentCurriculum, StudentObjective<SampleRow>, Action<VisionLanguageModel, string>, RecordingProgress, Dictionary<string, double>> train)
    {
        var heldOut = run.Data.Rows("val").Take(16).ToList();
        var objective = new StudentObjective<SampleRow>(
            (student, batch) => SftLoss.Compute(student, batch, run.Data.ImageFormat, run.Data.PadId, auxWeight: 0.01),
            student => [("heldout_ce", SftLoss.HeldOut(student, heldOut, run.Data.ImageFormat, run.Data.PadId, 16))]);
        var curriculum = new StudentCurriculum("sft", DistillationFlowTests.TinyRun.StudentConfig(run.Data),
            new StudentSchedule(1, 2, 1, DistillationFlowTests.TinyRun.StudentMoe), new TrainOptions(4, 16, 3e-3, 0, 2, Seed: 5),
            run.TeacherDir);
        var weights = new Dictionary<string, float[]>();
        var progress = new RecordingProgress();
        var figures = train(curriculum, objective, (model, phase) =>
        {
            foreach (var (name, parameter) in model.named_parameters())
                weights[$"{phase}/{name}"] = parameter.detach().cpu().data<float>().ToArray();
        }, progress);
        return (figures, weights, progress.Reports);
    }

    [Fact]
    public void A_first_epoch_streamed_in_the_shuffle_order_trains_the_student_of_a_replayed_one_bit_for_bit()
    {
        var rows = run.Data.Rows("train").Take(40).ToList();
        var captions = SftStudent.Captions(run.Data, "train");
        var replayed = Curriculum((curriculum, objective, afterPhase, progress) => curriculum.Run(rows, objective, ("dense", "moe"),
            captions, run.Data.ImageFormat, run.Data.PadId, afterPhase, progress, CancellationToken.None));

        // The dense phase's epoch 1 replays the rows in the shuffle of seed 7 * 5 + 200 + 1; streamed in that order
        // (in pieces of 12, which do not fill batches evenly), its batches are the same.
        var arriving = TeacherPretraining.Shuffled(rows, 7 * 5 + 201);
        int[] stepsAfterPiece = new int[4];
        var streamed = Curriculum((curriculum, objective, afterPhase, progress) =>
        {
            using var session = curriculum.Start(objective, ("dense", "moe"), captions, run.Data.ImageFormat, run.Data.PadId,
                afterPhase, progress, streamedRows: rows.Count, CancellationToken.None);
            Assert.True(session.Streams);
            Assert.Contains(progress.Reports, p => p.Phase == ProjectorWarmup.Phase);     // warmed up before the first row
            var pieces = arriving.Chunk(12).ToList();
            for (int i = 0; i < pieces.Count; i++)
            {
                double loss = session.Stream(pieces[i], CancellationToken.None);
                stepsAfterPiece[i] = progress.Reports.Count(p => p.Phase == "dense");
                Assert.Equal(stepsAfterPiece[i] > (i == 0 ? 0 : stepsAfterPiece[i - 1]), double.IsFinite(loss));
            }
            Assert.DoesNotContain(progress.Reports, p => p.Phase == "dense-heldout");      // the held-out start is measured at the end
            return session.Finish(rows, CancellationToken.None);
        });

        Assert.Equal([0, 1, 2, 2], stepsAfterPiece);       // 12, 24, 36, 40 rows in: a step per full batch of 16
        Assert.Equal(replayed.Figures.OrderBy(kv => kv.Key), streamed.Figures.OrderBy(kv => kv.Key));
        Assert.Equal(replayed.Weights.Keys.Order(), streamed.Weights.Keys.Order());
        foreach (var (name, values) in replayed.Weights) Assert.True(values.SequenceEqual(streamed.Weights[name]), name);
        // The held-out start (measured on the weights from before the stream) and the curve after each epoch.
        Assert.Equal(3, streamed.Figures.Count(kv => kv.Key.StartsWith("dense_heldout_ce_epoch")));
        Assert.Equal(Enumerable.Range(1, 6).Select(i => (long)i), streamed.Streamed.Where(p => p.Phase == "dense").Select(p => p.Step));
        Assert.All(streamed.Streamed.Where(p => p.Phase == "dense"), p => Assert.Equal(6, p.TotalSteps));
    }

    [Fact]
    public void A_curriculum_without_a_dense_epoch_does_not_stream_and_trains_everything_at_the_end()
    {
        var rows = run.Data.Rows("train").Take(20).ToList();
        var curriculum = new StudentCurriculum("sft", DistillationFlowTests.TinyRun.StudentConfig(run.Data),
            new StudentSchedule(0, 0, 1, DistillationFlowTests.TinyRun.StudentMoe), new TrainOptions(1, 16, 3e-3, 0, 1, Seed: 5), run.TeacherDir);
        var objective = new StudentObjective<SampleRow>(
            (student, batch) => SftLoss.Compute(student, batch, run.Data.ImageFormat, run.Data.PadId, auxWeight: 0.01), null);
        var progress = new RecordingProgress();
        using var session = curriculum.Start(objective, ("dense", "moe"), [], run.Data.ImageFormat, run.Data.PadId, (_, _) => { },
            progress, streamedRows: rows.Count, CancellationToken.None);
        Assert.False(session.Streams);
        Assert.True(double.IsNaN(session.Stream(rows, CancellationToken.None)));
        Assert.Empty(progress.Reports);
        var figures = session.Finish(rows, CancellationToken.None);
        Assert.Equal(2, figures["moe_steps"]);
        Assert.Equal([1L, 2], progress.Reports.Where(p => p.Phase == "moe").Select(p => p.Step));
    }

    [Fact]
    public void A_schedule_must_train_and_needs_moe_for_moe_epochs()
    {
        Assert.Contains("MoE configuration", Assert.Throws<ArgumentException>(() => new StudentSchedule(0, 1, 1, null).Validate()).Message);
        Assert.Contains("no epoch", Assert.Throws<ArgumentException>(() => new StudentSchedule(1, 0, 0, new()).Validate()).Message);
        Assert.True(new StudentSchedule(0, 0, 1, new()).Validate().UpcyclesToMoe);
        Assert.False(new StudentSchedule(0, 1, 0, null).Validate().UpcyclesToMoe);
    }
}
