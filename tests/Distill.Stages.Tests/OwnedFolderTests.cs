using Distill.Stages.Cache;
using Distill.Stages.Data;
using Distill.Stages.Workspace;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>The ownership rule: a new, empty or marked folder is Distill's to write into; anything else is refused,
/// naming the folder, and left as it was.</summary>
public sealed class OwnedFolderTests : IDisposable
{
    private readonly TempDir _dir = new();

    private string Sub(string name) => Path.Combine(_dir.Path, name);

    /// <summary>A user's LLaVA folder: their own train.json and an images/ folder of photographs.</summary>
    private string UsersFolder()
    {
        var dir = Sub("mine");
        Directory.CreateDirectory(Path.Combine(dir, "images"));
        File.WriteAllText(Path.Combine(dir, "train.json"), """[{"id": "p1", "image": "images/p1.jpg", "conversations": []}]""");
        for (var i = 0; i < 3; i++) File.WriteAllBytes(Path.Combine(dir, "images", $"p{i}.jpg"), [0xFF, 0xD8, (byte)i]);
        return dir;
    }

    [Fact]
    public void New_and_empty_folders_are_accepted_and_claiming_marks_them()
    {
        foreach (var kind in new[] { OwnedFolder.Run, OwnedFolder.Dataset, OwnedFolder.Cache, OwnedFolder.Export })
            Assert.Null(kind.Refusal(Sub("missing")));
        Directory.CreateDirectory(Sub("empty"));
        Assert.Null(OwnedFolder.Dataset.Refusal(Sub("empty")));

        OwnedFolder.Dataset.Claim(Sub("new/data"));
        Assert.True(File.Exists(Path.Combine(Sub("new/data"), ".distill-dataset")));
        Assert.True(OwnedFolder.Dataset.IsMarked(Sub("new/data")));
        Assert.False(OwnedFolder.Cache.IsMarked(Sub("new/data")));

        // A folder that holds only Distill's markers counts as empty for every kind (a run directory that is also
        // the dataset folder).
        Assert.Null(OwnedFolder.Run.Refusal(Sub("new/data")));
        OwnedFolder.Run.Claim(Sub("new/data"));
        Assert.True(OwnedFolder.Run.IsMarked(Sub("new/data")));
    }

    [Fact]
    public void A_users_folder_is_refused_naming_it_and_is_left_unchanged()
    {
        var dir = UsersFolder();
        var before = FolderSnapshot.Of(dir);

        var why = OwnedFolder.Dataset.Refusal(dir, "distill.data.dir");
        Assert.Equal($"distill.data.dir {dir} is not empty and is not a Distill Shapes dataset (no dataset.json or .distill-dataset " +
                     "written by Distill): refusing to write into it; give an empty or new folder", why);
        var e = Assert.Throws<FolderNotOwnedException>(() => OwnedFolder.Dataset.Claim(dir));
        Assert.Equal(dir, e.Folder);
        Assert.StartsWith($"the Shapes dataset folder {dir} is not empty", e.Message);
        Assert.Contains("is not a Distill run directory", OwnedFolder.Run.Refusal(dir));
        Assert.Contains("is not a Distill teacher-output cache", OwnedFolder.Cache.Refusal(dir));
        Assert.Contains("is not a Distill student export", OwnedFolder.Export.Refusal(dir));
        Assert.Throws<FolderNotOwnedException>(() => OwnedFolder.Cache.Claim(dir));

        Assert.Equal(before, FolderSnapshot.Of(dir));
    }

    [Fact]
    public void A_file_is_refused()
    {
        var file = Sub("a-file");
        File.WriteAllText(file, "mine");
        Assert.Contains($"{file} is a file, not a folder", OwnedFolder.Run.Refusal(file));
        Assert.Equal("mine", File.ReadAllText(file));
    }

    [Fact]
    public void Another_kinds_marker_does_not_make_a_folder_of_this_kind()
    {
        var dir = Sub("run");
        OwnedFolder.Run.Claim(dir);
        File.WriteAllText(Path.Combine(dir, "ledger.jsonl"), "");
        Assert.Null(OwnedFolder.Run.Refusal(dir));
        Assert.Contains("is not a Distill Shapes dataset", OwnedFolder.Dataset.Refusal(dir));
    }

    [Fact]
    public void Folders_of_earlier_versions_are_recognised_by_what_distill_wrote_into_them()
    {
        // A run directory: its config.resolved.conf with Distill's header; a user's file of that name is not enough.
        var run = Sub("run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "config.resolved.conf"), "distill { seed = 1 }\n");
        Assert.NotNull(OwnedFolder.Run.Refusal(run));
        File.WriteAllText(Path.Combine(run, "config.resolved.conf"), "# " + OwnedFolder.ResolvedConfigTitle + "r1, written ...\ndistill { }\n");
        Assert.Null(OwnedFolder.Run.Refusal(run));

        // A dataset: its dataset.json of format distill-shapes/v1; another dataset.json is not.
        var data = Sub("data");
        Directory.CreateDirectory(data);
        File.WriteAllText(Path.Combine(data, "dataset.json"), """{"format": "someone-else/v2"}""");
        Assert.NotNull(OwnedFolder.Dataset.Refusal(data));
        File.WriteAllText(Path.Combine(data, "dataset.json"), "not json at all");
        Assert.NotNull(OwnedFolder.Dataset.Refusal(data));
        var written = Sub("written");
        ShapesGenerator.Write(ShapesDatasetFixture.Options with { TrainScenes = 2, ValScenes = 1, TestScenes = 1 }, written);
        File.Delete(Path.Combine(written, ".distill-dataset"));
        Assert.Null(OwnedFolder.Dataset.Refusal(written));

        // A cache: a <teacher>/<stage>/<key>/manifest.json of format distill-cache/v1.
        var other = Sub("other");
        Directory.CreateDirectory(Path.Combine(other, "x", "y", "z"));
        File.WriteAllText(Path.Combine(other, "x", "y", "z", "manifest.json"), "{}");
        Assert.NotNull(OwnedFolder.Cache.Refusal(other));
        var cache = Sub("cache");
        var key = new CacheKey("teacher-a", "tok-a", null, "data0123456789abcdef", "cfg-a");
        StageCache.Open(cache, "mimic", key, 2, CacheMode.Reuse);
        File.Delete(Path.Combine(cache, ".distill-cache"));
        Assert.Null(OwnedFolder.Cache.Refusal(cache));

        // An export: README.txt beginning "Distill student export:".
        var export = Sub("export");
        Directory.CreateDirectory(export);
        File.WriteAllText(Path.Combine(export, "README.txt"), "my notes\n");
        Assert.NotNull(OwnedFolder.Export.Refusal(export));
        File.WriteAllText(Path.Combine(export, "README.txt"), "Distill student export: model 'mod' (MoD decoder) from x\n");
        Assert.Null(OwnedFolder.Export.Refusal(export));
    }

    [Fact]
    public void A_cache_root_of_someone_elses_is_refused_before_a_stage_cache_is_opened()
    {
        var dir = UsersFolder();
        var before = FolderSnapshot.Of(dir);
        var key = new CacheKey("teacher-a", "tok-a", null, "data0123456789abcdef", "cfg-a");
        foreach (var mode in new[] { CacheMode.Reuse, CacheMode.Write })
        {
            var e = Assert.Throws<FolderNotOwnedException>(() => StageCache.Open(dir, "mimic", key, 2, mode));
            Assert.Contains($"the teacher-output cache folder {dir} is not empty", e.Message);
        }
        Assert.Equal(before, FolderSnapshot.Of(dir));
    }

    [Fact]
    public void An_export_folder_of_someone_elses_is_neither_deleted_nor_replaced()
    {
        var data = new ShapesData(Sub("data"), Distill.Stages.Text.WordTokenizer.Build(["a red circle"]), 16, 4);
        var student = new Distill.Stages.Evaluation.EvaluatedModel("mod", Sub("no-checkpoint"));
        foreach (var (export, mine) in new[] { (Sub("run1/export"), Sub("run1/export")), (Sub("run2/export"), Sub("run2/export.tmp")) })
        {
            Directory.CreateDirectory(mine);
            File.WriteAllText(Path.Combine(mine, "notes.txt"), "mine");
            var before = FolderSnapshot.Of(Path.GetDirectoryName(export)!);
            var e = Assert.Throws<FolderNotOwnedException>(() => Distill.Stages.Evaluation.StudentExport.Write(student, export, data));
            Assert.Contains($"{mine} is not empty and is not a Distill student export", e.Message);
            Assert.Equal(before, FolderSnapshot.Of(Path.GetDirectoryName(export)!));
        }
    }

    public void Dispose() => _dir.Dispose();
}
