using Distill.Pipeline.Cli;
using Distill.Pipeline.Runs;
using Distill.Stages.Cache;
using Distill.Stages.Data;

namespace Distill.Pipeline.Tests;

/// <summary>Issue 11, item 5: Distill writes only into the run directory, the cache and data folders it created. A
/// folder that exists, is not empty and is not Distill's is refused at start-up, before config.resolved.conf and before
/// any stage, with exit code 2 and a message naming it, and is left byte for byte as it was.</summary>
public class FolderOwnershipTests
{
    /// <summary>A user's LLaVA-format folder: their own train.json and an images/ folder of photographs.</summary>
    internal static string UsersLlavaFolder(string parent)
    {
        var dir = Path.Combine(parent, "my-llava");
        Directory.CreateDirectory(Path.Combine(dir, "images"));
        File.WriteAllText(Path.Combine(dir, "train.json"),
            """[{"id": "photo-0", "image": "images/photo-0.jpg", "conversations": [{"from": "human", "value": "<image>\nwho?"}, {"from": "gpt", "value": "my cat"}]}]""");
        for (var i = 0; i < 4; i++)
            File.WriteAllBytes(Path.Combine(dir, "images", $"photo-{i}.jpg"), [0xFF, 0xD8, 0xFF, 0xE0, (byte)i, 0x42]);
        return dir;
    }

    private static IReadOnlyList<string> Snapshot(string root) => Distill.Stages.Tests.FolderSnapshot.Of(root);

    /// <summary>A harness whose pipeline is the real one, so that a folder let through would really be written.</summary>
    private static CliHarness RealPipeline()
    {
        var h = new CliHarness();
        h.Body = async (progress, ct) => (await PipelineHost.RunAsync(h.Settings!, h.Paths!, progress, ct)).ExitCode;
        return h;
    }

    [Fact]
    public async Task A_users_llava_folder_as_the_data_dir_is_refused_before_any_work_and_left_unchanged()
    {
        using var h = RealPipeline();
        using var user = new TempDir();
        var mine = UsersLlavaFolder(user.Path);
        var before = Snapshot(user.Path);

        var code = await h.Run("run", "--preset", "tiny", "-D", $"distill.data.dir={mine}");

        Assert.Equal(ExitCodes.ConfigurationError, code);
        var err = h.Err.ToString();
        Assert.Contains($"distill.data.dir {mine} is not empty and is not a Distill Shapes dataset (no dataset.json or " +
                        ".distill-dataset written by Distill): refusing to write into it; give an empty or new folder", err);
        Assert.Contains("Nothing was run.", err);
        Assert.False(h.PipelineCalled);                                          // no stage
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));        // no run directory, no config.resolved.conf
        Assert.Equal(before, Snapshot(user.Path));                               // every file unchanged, none added
    }

    [Fact]
    public async Task A_run_directory_that_is_not_distills_is_refused_and_left_unchanged()
    {
        using var h = new CliHarness();
        using var user = new TempDir();
        var mine = UsersLlavaFolder(user.Path);
        var file = user.File("notes.txt", "mine");
        var before = Snapshot(user.Path);

        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("run", "--preset", "tiny", "--run", mine));
        Assert.Contains($"distill.run-dir {mine} is not empty and is not a Distill run directory (no .distill-run or " +
                        "config.resolved.conf written by Distill): refusing to write into it", h.Err.ToString());
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("run", "--preset", "tiny", "--run", file));
        Assert.Contains($"distill.run-dir {file} is a file, not a folder", h.Err.ToString());
        // The coordinator of a cluster run goes through the same start-up.
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("node", "--role", "coordinator", "--preset", "tiny", "--run", mine));

        Assert.False(h.PipelineCalled || h.ClusterRunnerCalled);
        Assert.Equal(before, Snapshot(user.Path));
    }

    [Fact]
    public async Task An_empty_folder_is_accepted_as_the_run_directory_and_marked()
    {
        using var h = new CliHarness();
        var empty = Path.Combine(h.Dir.Path, "empty");
        Directory.CreateDirectory(empty);

        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "--run", empty));
        Assert.Equal(empty, h.Paths!.Root);
        Assert.True(File.Exists(Path.Combine(empty, ".distill-run")));
        Assert.True(File.Exists(Path.Combine(empty, RunPaths.ResolvedConfigName)));
        Assert.True(File.Exists(Path.Combine(empty, "data", ".distill-dataset")));
        Assert.True(File.Exists(Path.Combine(empty, "cache", ".distill-cache")));
    }

    [Fact]
    public async Task A_distill_run_directory_is_resumed_and_so_is_one_of_an_earlier_version()
    {
        using var h = new CliHarness();
        h.Body = (_, _) =>
        {
            File.AppendAllText(h.Paths!.Ledger, "{}\n");
            return Task.FromResult(0);
        };
        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "--run", "r1"));
        var root = h.Paths!.Root;
        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "--run", "r1"));
        Assert.Equal(root, h.Paths.Root);
        Assert.Equal(2, File.ReadAllLines(Path.Combine(root, "ledger.jsonl")).Length); // resumed, not replaced

        // Written before .distill-run existed: its config.resolved.conf (Distill's header) marks it; it gets the marker.
        File.Delete(Path.Combine(root, ".distill-run"));
        File.Delete(Path.Combine(root, "data", ".distill-dataset"));
        File.Delete(Path.Combine(root, "cache", ".distill-cache"));
        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "--run", "r1"));
        Assert.Equal(3, File.ReadAllLines(Path.Combine(root, "ledger.jsonl")).Length);
        Assert.True(File.Exists(Path.Combine(root, ".distill-run")));
    }

    [Fact]
    public async Task A_cache_dir_that_is_not_distills_is_refused_unless_the_cache_is_off()
    {
        using var h = new CliHarness();
        using var user = new TempDir();
        var mine = UsersLlavaFolder(user.Path);
        var before = Snapshot(user.Path);

        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("run", "--preset", "tiny", "-D", $"distill.cache.dir={mine}"));
        Assert.Contains($"distill.cache.dir {mine} is not empty and is not a Distill teacher-output cache", h.Err.ToString());
        Assert.False(h.PipelineCalled);
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));

        // With the cache off nothing is written there, so it is not checked.
        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "-D", $"distill.cache.dir={mine}", "-D", "distill.cache.mode=off"));
        Assert.Equal(before, Snapshot(user.Path));
    }

    [Fact]
    public async Task A_cache_of_an_earlier_version_and_distills_own_dataset_are_accepted()
    {
        using var h = new CliHarness();
        // A cache as earlier versions left it: stage caches with their manifest.json, no marker at the root.
        var cache = Path.Combine(h.Dir.Path, "old-cache");
        StageCache.Open(cache, "mimic", new CacheKey("teacher-a", "tok-a", null, "data0123456789abcdef", "cfg-a"), 2, CacheMode.Reuse);
        File.Delete(Path.Combine(cache, ".distill-cache"));
        // A dataset Distill wrote, as earlier versions left it: no marker, its dataset.json.
        var data = Path.Combine(h.Dir.Path, "shapes");
        ShapesGenerator.Write(new ShapesOptions { ImageSize = 32, TrainScenes = 2, ValScenes = 1, TestScenes = 1 }, data);
        File.Delete(Path.Combine(data, ".distill-dataset"));

        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "-D", $"distill.cache.dir={cache}", "-D", $"distill.data.dir={data}"));
        Assert.Equal(data, h.Settings!.Data.Dir);
    }

    [Fact]
    public async Task Every_refused_folder_is_named_at_once()
    {
        using var h = new CliHarness();
        using var user = new TempDir();
        var run = Path.Combine(user.Path, "run");
        var data = Path.Combine(user.Path, "data");
        var cache = Path.Combine(user.Path, "cache");
        foreach (var dir in new[] { run, data, cache })
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, "mine.txt"), dir);
        }
        var before = Snapshot(user.Path);

        Assert.Equal(ExitCodes.ConfigurationError,
            await h.Run("run", "--preset", "tiny", "--run", run, "-D", $"distill.data.dir={data}", "-D", $"distill.cache.dir={cache}"));
        var err = h.Err.ToString();
        Assert.Contains("3 configuration errors", err);
        Assert.Contains($"distill.run-dir {run} is not empty", err);
        Assert.Contains($"distill.data.dir {data} is not empty", err);
        Assert.Contains($"distill.cache.dir {cache} is not empty", err);
        Assert.Equal(before, Snapshot(user.Path));
    }

    [Fact]
    public async Task An_export_folder_that_is_not_distills_is_refused_at_start_up()
    {
        using var h = new CliHarness();
        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "--run", "r1"));
        var export = Path.Combine(h.Paths!.Root, "export");
        Directory.CreateDirectory(export);
        File.WriteAllText(Path.Combine(export, "my-model.bin"), "mine");
        h.PipelineCalled = false;

        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("run", "--preset", "tiny", "--run", "r1"));
        Assert.Contains($"the run's export folder {export} is not empty and is not a Distill student export", h.Err.ToString());
        Assert.False(h.PipelineCalled);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(export, "my-model.bin")));
    }

    [Fact]
    public async Task Replay_into_and_bench_run_directories_that_are_not_distills_are_refused()
    {
        using var h = new CliHarness();
        using var user = new TempDir();
        var mine = UsersLlavaFolder(user.Path);
        var before = Snapshot(user.Path);

        // A source run with a stage cache (its contents do not matter: the replay is refused before it reads them).
        Assert.Equal(0, await h.Run("run", "--preset", "tiny", "--run", "src"));
        StageCache.Open(Path.Combine(h.Paths!.Root, "cache"), "mimic", new CacheKey("teacher-a", "tok-a", null, "data0123456789abcdef", "cfg-a"),
            2, CacheMode.Reuse);
        h.PipelineCalled = false;

        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("replay", "--run", h.Paths.Root, "--into", mine));
        Assert.Contains($"distill.run-dir {mine} is not empty and is not a Distill run directory", h.Err.ToString());
        Assert.False(h.PipelineCalled);

        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "models", "--preset", "tiny", "--repeats", "1", "--run", mine));
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "pipeline", "--preset", "tiny", "--repeats", "1", "--run", mine));
        Assert.Contains($"distill.run-dir {mine} is not empty and is not a Distill run directory", h.Err.ToString());

        Assert.Equal(before, Snapshot(user.Path));
    }
}
