using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Cache;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Distill.Stages.Training;

namespace Distill.Pipeline.Tests;

/// <summary>A run stopped in the middle of its distillation stage and started again on the same directory skips the
/// finished teacher stage, takes every complete cache part instead of running the teacher for it, and continues the
/// student from its last saved epoch.</summary>
public class ResumeTests
{
    /// <summary>Cancels the run in the middle of the mimic stage, once its cache lists at least
    /// <paramref name="parts"/> parts. The cache keeper writes on its own thread, a little behind the trainer, and a
    /// warm process streams the tiny stage's shards faster than the keeper syncs them to disk; so once the trainer has
    /// consumed that many shards, the report (made on the stage coordinator, which then issues no more shards) waits for
    /// the keeper to catch up, and the stop always falls mid-stage.</summary>
    private sealed class CancelWhenCached(string cacheRoot, int parts, CancellationTokenSource cts) : IStageProgress
    {
        public void Report(StageProgress p)
        {
            if (p is not { Stage: "mimic", Phase: "distill" } || p.Step < parts || p.Step >= p.TotalSteps || cts.IsCancellationRequested) return;
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (Written() < parts && DateTime.UtcNow < deadline) Thread.Sleep(20);
            if (Written() >= parts) cts.Cancel();
        }

        private int Written() => Directory.Exists(cacheRoot) ? CacheInventory.List(cacheRoot).Sum(e => e.Manifest?.Parts.Count ?? 0) : 0;
    }

    [Fact]
    public async Task A_run_stopped_mid_stage_resumes_from_its_complete_cache_parts()
    {
        using var dir = new TempDir();
        var config = ConfigLoader.Load(new ConfigSources
        {
            Preset = "tiny",
            RunDir = Path.Combine(dir.Path, "run"),
            Overrides =
            [
                "distill.data.train-scenes = 48", "distill.data.val-scenes = 8", "distill.data.test-scenes = 8",
                "distill.stages = [teacher, mimic]", "distill.parallelism.credit-window = 2", "distill.parallelism.shard-size = 4",
            ],
        });
        var (loaded, paths) = RunDirectory.Create(config, DateTimeOffset.UtcNow);
        var settings = loaded.Settings;

        using (var cts = new CancellationTokenSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                PipelineHost.RunAsync(settings, paths, new CancelWhenCached(Path.Combine(paths.Root, "cache"), 3, cts), cts.Token));
        }
        var entry = Assert.Single(CacheInventory.List(Path.Combine(paths.Root, "cache")));
        Assert.Equal("mimic", entry.Manifest!.Stage);
        Assert.False(entry.Manifest.Complete);
        var partsBefore = entry.Manifest.Parts.Count;
        Assert.True(partsBefore >= 3, $"{partsBefore} parts written before the stop");

        Assert.Equal(0, (await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None)).ExitCode);

        var entries = new RunLedger(paths.Ledger).ReadAll();
        Assert.Contains(entries, e => e is { Stage: "teacher", Status: RunLedgerStatus.Skipped });
        Assert.Contains(entries, e => e is { Stage: "mimic", Status: RunLedgerStatus.Failed, Error: "cancelled" });
        var mimic = entries.Single(e => e is { Stage: "mimic", Status: RunLedgerStatus.Completed });
        Assert.Equal(partsBefore, (int)mimic.Figures!["shards_from_cache"]);
        Assert.Equal(mimic.ShardsConsumed - partsBefore, (int)mimic.Figures["shards_from_teacher"]);
        Assert.Equal(mimic.ShardsConsumed - partsBefore, mimic.ShardsIssued); // the teacher ran only for the missing shards
        var after = CacheInventory.Verify(Assert.Single(CacheInventory.List(Path.Combine(paths.Root, "cache"))));
        Assert.True(after.Ok);
        Assert.True(after.Entry.Manifest!.Complete);
    }

    /// <summary>Cancels the run once the mimic stage has saved its training state after its first epoch.</summary>
    private sealed class CancelAfterFirstSave(CancellationTokenSource cts) : IStageProgress
    {
        public void Report(StageProgress p)
        {
            if (p is { Stage: "mimic", Phase: TrainingState.SavedPhase }) cts.Cancel();
        }
    }

    [Fact]
    public async Task A_run_stopped_after_a_saved_mimic_epoch_continues_the_student_from_it()
    {
        using var dir = new TempDir();
        var config = ConfigLoader.Load(new ConfigSources
        {
            Preset = "tiny",
            RunDir = Path.Combine(dir.Path, "run"),
            Overrides =
            [
                "distill.data.train-scenes = 48", "distill.data.val-scenes = 8", "distill.data.test-scenes = 8",
                "distill.stages = [teacher, mimic]", "distill.mimic.d2d-epochs = 2",
            ],
        });
        var (loaded, paths) = RunDirectory.Create(config, DateTimeOffset.UtcNow);
        var settings = loaded.Settings;
        var state = Path.Combine(paths.Checkpoints, "mimic" + TrainingStateStore.Suffix);

        using (var cts = new CancellationTokenSource())
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
                PipelineHost.RunAsync(settings, paths, new CancelAfterFirstSave(cts), cts.Token));
        }
        Assert.True(File.Exists(Path.Combine(state, TrainingStateStore.StateFile)));
        Assert.False(File.Exists(Path.Combine(paths.Checkpoints, "student-dense", "model.safetensors"))); // D2D did not finish
        var partsBefore = Assert.Single(CacheInventory.List(Path.Combine(paths.Root, "cache"))).Manifest!.Parts.Count;

        Assert.Equal(0, (await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None)).ExitCode);

        var entries = new RunLedger(paths.Ledger).ReadAll();
        Assert.Contains(entries, e => e is { Stage: "teacher", Status: RunLedgerStatus.Skipped });
        Assert.Contains(entries, e => e is { Stage: "mimic", Status: RunLedgerStatus.Failed, Error: "cancelled" });
        var mimic = entries.Single(e => e is { Stage: "mimic", Status: RunLedgerStatus.Completed });
        Assert.Equal(1, mimic.Figures![TrainingState.ResumedFigure]);              // after D2D epoch 1 of 2
        Assert.Equal(partsBefore, (int)mimic.Figures["shards_from_cache"]);
        Assert.Equal(mimic.ShardsConsumed - partsBefore, (int)mimic.Figures["shards_from_teacher"]);
        Assert.Equal(2, mimic.Figures["d2d_epochs"]);
        Assert.True(File.Exists(Path.Combine(paths.Checkpoints, "student-moe", "model.safetensors")));
        Assert.False(Directory.Exists(state));                                      // deleted when the stage completed
        var log = File.ReadAllText(Path.Combine(paths.Logs, "resume.log"));
        Assert.Contains($"mimic: continuing after epoch 1 of phase d2d (1 epoch(s) of the stage done) from {state}", log);
    }
}
