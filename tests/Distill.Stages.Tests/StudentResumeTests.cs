using Distill.Models.Checkpoints;
using Distill.Stages.Distillation;
using Distill.Stages.Flow;
using Distill.Stages.Losses;
using Distill.Stages.Sources;
using Distill.Stages.Students;
using Distill.Stages.Training;
using TorchSharp;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>A mimic stage stopped after a saved epoch and started again as a fresh student step with the same
/// training state continues to exactly the student of a run that never stopped (CPU, bit for bit); a state saved
/// with other settings is ignored with a warning and the stage trains from its beginning.</summary>
[Collection(TinyRunCollection.Name)]
public sealed class StudentResumeTests(DistillationFlowTests.TinyRun run)
{
    /// <summary>Cancels the run once the state after stage epoch <paramref name="epoch"/> is saved.</summary>
    private sealed class CancelAfterSave(int epoch, CancellationTokenSource cts) : IStageProgress
    {
        public List<StageProgress> Reports { get; } = new();

        public void Report(StageProgress p)
        {
            Reports.Add(p);
            if (p.Phase == TrainingState.SavedPhase && p.Step == epoch) cts.Cancel();
        }
    }

    private TrainingStateStore Store(string name, string fingerprint, List<string>? log = null) =>
        new(TrainingStateStore.DirectoryOf(run.Dir.File($"{name}/checkpoints"), "mimic"), "mimic", fingerprint, log is null ? null : log.Add);

    /// <summary>The mimic student of <see cref="DistillationFlowTests.TinyRun"/>'s run (same options, shards and
    /// teacher), with a training state, writing to <c>name/</c>.</summary>
    private StageOutcome Mimic(string name, TrainingStateStore states, IStageProgress progress, CancellationToken cancellation)
    {
        var reference = run.Mimic;
        var source = new SplitShardSource(run.Data, "train", "val", shardSize: 16);
        using var teacher = new TeacherInference(run.TeacherDir, run.Pretraining.TeacherFingerprint, run.Data.Tokenizer.Hash,
            topK: 8, TokenScope.Response, run.Data.ImageFormat, run.Data.PadId);
        using var student = new MimicStudent("mimic", DistillationFlowTests.TinyRun.StudentConfig(run.Data), reference.Options,
            run.TeacherDir, source.TrainSamples, source.IsHeldOut, SftStudent.Captions(run.Data, "train"), run.Dir.File($"{name}/student-dense"),
            run.Dir.File($"{name}/student-moe"), run.Data.ImageFormat, run.Data, source, new KeptShards(run.Dir.File($"{name}/kept"), replayWindow: 2),
            states: states,
            streamProgress: progress, streamCancellation: cancellation);
        for (int shard = 0; shard < source.ShardCount; shard++)
            student.Consume(shard, teacher.Infer(source.LoadShard(shard)));
        return student.Complete(progress, cancellation);
    }

    private void AssertSameStudents(string name)
    {
        var reference = run.Mimic;
        foreach (var (expected, actual) in new[] { (reference.DenseDir, $"{name}/student-dense"), (reference.MoeDir, $"{name}/student-moe") })
            Assert.True(File.ReadAllBytes(Path.Combine(expected, Checkpoint.WeightsFile))
                .SequenceEqual(File.ReadAllBytes(run.Dir.File($"{actual}/{Checkpoint.WeightsFile}"))), $"{actual} differs from {expected}");
    }

    /// <summary>Every figure of the run that never stopped, with the same value (the vision feature cache's size
    /// depends on what the resumed process saw).</summary>
    private void AssertSameFigures(StageOutcome outcome)
    {
        foreach (var (figure, value) in run.Mimic.Outcome.Figures.Where(f => f.Key != "vision_cache_images"))
            Assert.True(outcome.Figures.TryGetValue(figure, out var actual) && actual.Equals(value), $"{figure}: {value} vs {actual}");
    }

    // The schedule: warm-up 1, D2D 2, D2S 2 epochs (stage epochs 1..5).
    [Theory]
    [InlineData(2)] // after the first D2D epoch: continues in the middle of a phase, the warm-up is skipped
    [InlineData(4)] // after the first D2S epoch: warm-up and D2D are skipped, the student is upcycled and restored
    public void A_mimic_stage_stopped_after_a_saved_epoch_continues_to_the_same_student_bit_for_bit(int stopAfter)
    {
        string name = $"resume-{stopAfter}";
        var states = Store(name, "fp");
        using (var cts = new CancellationTokenSource())
        {
            var progress = new CancelAfterSave(stopAfter, cts);
            Assert.ThrowsAny<OperationCanceledException>(() => Mimic(name, states, progress, cts.Token));
            Assert.Equal(Enumerable.Range(1, stopAfter).Select(e => (long)e),
                progress.Reports.Where(p => p.Phase == TrainingState.SavedPhase).Select(p => p.Step));
        }
        Assert.True(File.Exists(Path.Combine(states.Directory, TrainingStateStore.StateFile)));

        var log = new List<string>();
        var resumed = new CancelAfterSave(-1, new CancellationTokenSource());
        var outcome = Mimic(name, Store(name, "fp", log), resumed, CancellationToken.None);

        Assert.Equal(stopAfter, outcome.Figures[TrainingState.ResumedFigure]);
        var first = resumed.Reports[0];
        Assert.Equal(("mimic", TrainingState.ResumedPhase, (long)stopAfter, 5L), (first.Stage, first.Phase, first.Step, first.TotalSteps));
        Assert.StartsWith($"mimic: continuing after epoch {(stopAfter == 2 ? "1 of phase d2d" : "1 of phase d2s")} ({stopAfter} epoch(s)", Assert.Single(log));
        Assert.DoesNotContain(resumed.Reports, p => p.Phase == ProjectorWarmup.Phase);      // the warm-up is not run again
        Assert.Equal(Enumerable.Range(stopAfter + 1, 5 - stopAfter).Select(e => (long)e),
            resumed.Reports.Where(p => p.Phase == TrainingState.SavedPhase).Select(p => p.Step));
        AssertSameStudents(name);
        AssertSameFigures(outcome);
        Assert.False(Directory.Exists(states.Directory));                                    // deleted when the stage completes
    }

    [Fact]
    public void A_state_saved_with_other_settings_is_ignored_with_a_warning_and_the_stage_trains_from_its_beginning()
    {
        const string name = "resume-mismatch";
        using (var cts = new CancellationTokenSource())
            Assert.ThrowsAny<OperationCanceledException>(() => Mimic(name, Store(name, "fp-a"), new CancelAfterSave(2, cts), cts.Token));

        var log = new List<string>();
        var states = Store(name, "fp-b", log);
        var progress = new CancelAfterSave(-1, new CancellationTokenSource());
        var outcome = Mimic(name, states, progress, CancellationToken.None);

        var warning = Assert.Single(log);
        Assert.Equal($"warning: mimic: ignoring the saved training state {states.Directory}: it was saved with other settings, data, " +
                     "teacher or input student (fingerprint fp-a, now fp-b); the stage trains from its beginning", warning);
        Assert.False(outcome.Figures.ContainsKey(TrainingState.ResumedFigure));
        Assert.DoesNotContain(progress.Reports, p => p.Phase == TrainingState.ResumedPhase);
        Assert.Contains(progress.Reports, p => p.Phase == ProjectorWarmup.Phase);           // from the beginning
        AssertSameStudents(name);
        AssertSameFigures(outcome);
        Assert.False(Directory.Exists(states.Directory));
    }
}
