using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Distill.Stages.Training;

namespace Distill.Pipeline.Tests;

/// <summary>distill.teacher.store: a teacher pretrained once is reused by a later run with the same fingerprint, copied
/// bit for bit; a store entry whose files no longer match their hashes is never used, and is replaced.</summary>
public class TeacherStoreTests
{
    private static async Task<(IReadOnlyDictionary<string, double> Figures, string TeacherDir)> Run(string root, string name, string store)
    {
        var (settings, paths) = TinyRuns.Create(Path.Combine(root, name), "distill.stages = [teacher]", $"distill.teacher.store = \"{store}\"");
        var outcome = await PipelineHost.RunAsync(settings, paths, NullStageProgress.Instance, CancellationToken.None);
        Assert.True(outcome.ExitCode == 0, outcome.Failure?.Error);
        var entry = new RunLedger(paths.Ledger).ReadAll().Last(e => e.Stage == "teacher" && e.Status == RunLedgerStatus.Completed);
        return (entry.Figures!, Path.Combine(paths.Checkpoints, "teacher"));
    }

    [Fact]
    public async Task A_second_run_takes_the_stored_teacher_and_a_damaged_entry_is_pretrained_again_and_replaced()
    {
        using var dir = new TempDir();
        var store = Path.Combine(dir.Path, "store");

        var (first, firstTeacher) = await Run(dir.Path, "run1", store);
        Assert.False(first.ContainsKey("reused_from_store"));
        var entry = Assert.Single(Directory.GetDirectories(store));
        Assert.True(File.Exists(Path.Combine(entry, TeacherStore.ManifestFile)));
        Assert.Empty(Directory.GetDirectories(store, ".tmp-*"));

        var (second, secondTeacher) = await Run(dir.Path, "run2", store);
        Assert.Equal(1, second["reused_from_store"]);
        foreach (var file in Directory.GetFiles(firstTeacher))
            Assert.Equal(File.ReadAllBytes(file), File.ReadAllBytes(Path.Combine(secondTeacher, Path.GetFileName(file))));

        // One flipped byte in the stored weights: the entry fails verification, the teacher is pretrained and stored again.
        var weights = Path.Combine(entry, "model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(weights, bytes);
        Assert.Null(new TeacherStore(store).TryGet(Path.GetFileName(entry), out var problem));
        Assert.Contains("does not match its sha256", problem);
        var (third, _) = await Run(dir.Path, "run3", store);
        Assert.False(third.ContainsKey("reused_from_store"));
        Assert.NotNull(new TeacherStore(store).TryGet(Path.GetFileName(entry), out _));
    }
}
