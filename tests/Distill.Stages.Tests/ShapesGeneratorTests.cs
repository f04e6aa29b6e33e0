using Xunit;
using Distill.Stages.Data;

namespace Distill.Stages.Tests;

public sealed class ShapesGeneratorTests(ShapesDatasetFixture data) : IClassFixture<ShapesDatasetFixture>
{
    private static readonly ShapesOptions Small = ShapesDatasetFixture.Options with { TrainScenes = 4, ValScenes = 2, TestScenes = 2 };

    [Fact]
    public void Same_options_write_byte_identical_files()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        ShapesGenerator.Write(Small, a.Path);
        ShapesGenerator.Write(Small, b.Path);
        var filesA = Directory.GetFiles(a.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(a.Path, f)).Order().ToList();
        var filesB = Directory.GetFiles(b.Path, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(b.Path, f)).Order().ToList();
        Assert.Equal(filesA, filesB);
        // 8 PNGs + 3 split files + 3 scene files + the manifest + Distill's marker; no temp files left behind.
        Assert.Equal(16, filesA.Count);
        Assert.Contains(".distill-dataset", filesA);
        Assert.DoesNotContain(filesA, f => f.Contains(".tmp"));
        foreach (var f in filesA)
            Assert.True(File.ReadAllBytes(Path.Combine(a.Path, f)).AsSpan().SequenceEqual(File.ReadAllBytes(Path.Combine(b.Path, f))), f);
    }

    [Fact]
    public void Distills_own_dataset_is_reused_without_writing_a_file()
    {
        using var d = new TempDir();
        var written = ShapesGenerator.Write(Small, d.Path);
        var times = Directory.GetFiles(d.Path, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.GetLastWriteTimeUtc);
        var before = FolderSnapshot.Of(d.Path);

        Assert.Equal(written.Fingerprint, ShapesGenerator.WriteOrReuse(Small, d.Path).Fingerprint);
        // A dataset of an earlier version (no marker, but its dataset.json) is reused the same way.
        File.Delete(Path.Combine(d.Path, ".distill-dataset"));
        before = FolderSnapshot.Of(d.Path);
        Assert.Equal(written.Fingerprint, ShapesGenerator.WriteOrReuse(Small, d.Path).Fingerprint);

        Assert.Equal(before, FolderSnapshot.Of(d.Path));
        foreach (var (file, time) in times.Where(t => File.Exists(t.Key))) Assert.Equal(time, File.GetLastWriteTimeUtc(file));
    }

    [Fact]
    public void A_dataset_cut_short_is_still_distills_and_is_written_again()
    {
        using var d = new TempDir();
        ShapesGenerator.Write(Small, d.Path);
        // As a crash mid-write leaves it: the marker (written first) and some files, no dataset.json (written last).
        File.Delete(Path.Combine(d.Path, DatasetManifest.FileName));
        File.Delete(Path.Combine(d.Path, "test.json"));
        var manifest = ShapesGenerator.WriteOrReuse(Small, d.Path);
        Assert.Equal(DatasetFingerprint.Of(Small), manifest.Fingerprint);
        Assert.NotNull(ShapesDataset.TryReadManifest(d.Path));
        Assert.True(File.Exists(Path.Combine(d.Path, "test.json")));
    }

    [Fact]
    public void A_users_llava_folder_is_refused_and_left_byte_for_byte_as_it_was()
    {
        using var d = new TempDir();
        Directory.CreateDirectory(Path.Combine(d.Path, "images"));
        File.WriteAllText(Path.Combine(d.Path, "train.json"), """[{"id": "a", "image": "images/a.png", "conversations": []}]""");
        for (var i = 0; i < 3; i++) File.WriteAllBytes(Path.Combine(d.Path, "images", $"photo{i}.png"), [0x89, 0x50, (byte)i]);
        var before = FolderSnapshot.Of(d.Path);

        var e = Assert.Throws<Distill.Stages.Workspace.FolderNotOwnedException>(() => ShapesGenerator.WriteOrReuse(Small, d.Path));
        Assert.Contains($"{d.Path} is not empty and is not a Distill Shapes dataset", e.Message);
        Assert.Throws<Distill.Stages.Workspace.FolderNotOwnedException>(() => ShapesGenerator.Write(Small, d.Path));

        Assert.Equal(before, FolderSnapshot.Of(d.Path));
    }

    [Fact]
    public void Another_seed_gives_other_scenes_and_another_fingerprint()
    {
        using var a = new TempDir();
        using var b = new TempDir();
        var ma = ShapesGenerator.Write(Small, a.Path);
        var mb = ShapesGenerator.Write(Small with { Seed = 8 }, b.Path);
        Assert.NotEqual(ma.Fingerprint, mb.Fingerprint);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a.Path, "scenes_train.json")), File.ReadAllBytes(Path.Combine(b.Path, "scenes_train.json")));
    }

    [Fact]
    public void Splits_use_different_seeds()
    {
        var train = ShapesDataset.ReadScenes(data.Dir, "train");
        var val = ShapesDataset.ReadScenes(data.Dir, "val");
        Assert.NotEqual(Describe(train.Take(6)), Describe(val));
        static string Describe(IEnumerable<ShapesScene> s) => string.Join("|", s.Select(x => Captions.Of(x)));
    }

    [Fact]
    public void Manifest_counts_match_the_written_samples()
    {
        var m = ShapesDataset.TryReadManifest(data.Dir)!;
        Assert.Equal(DatasetManifest.FormatVersion, m.Format);
        Assert.Equal(DatasetFingerprint.Of(ShapesDatasetFixture.Options), m.Fingerprint);
        Assert.Equal(64, m.Fingerprint.Length);
        Assert.Equal(7, m.Options.Seed);
        Assert.Equal(ShapesVocabulary.Families, m.Options.Families);
        Assert.Equal(["train", "val", "test"], m.Splits.Select(s => s.Name));
        foreach (var split in m.Splits)
        {
            var samples = ShapesDataset.ReadSplit(data.Dir, split.Name);
            Assert.Equal(split.Scenes * 5, split.Samples);
            Assert.Equal(split.Samples, samples.Count);
            foreach (var f in ShapesVocabulary.Families)
                Assert.Equal(split.Families[f], samples.Count(s => s.Task == f));
        }
    }

    [Fact]
    public void Every_family_is_well_represented_and_existence_is_balanced()
    {
        var samples = ShapesDataset.ReadSplit(data.Dir, "train");
        foreach (var f in ShapesVocabulary.Families)
        {
            int n = samples.Count(s => s.Task == f);
            Assert.InRange(n, 18, 40); // 200 questions over 7 families: about 28 each when no family falls back
        }
        foreach (var family in new[] { "existence", "relation" })
        {
            var binary = samples.Where(s => s.Task == family).ToList();
            int yes = binary.Count(s => s.Answer == "yes"), no = binary.Count(s => s.Answer == "no");
            Assert.Equal(binary.Count, yes + no);
            if (family == "relation") Assert.InRange(yes - no, -1, 1);
        }
        // Existence is balanced within every POPE setting, and the settings take turns.
        var bySetting = samples.Where(s => s.Task == "existence").GroupBy(s => s.Probe!).ToDictionary(g => g.Key, g => g.ToList());
        Assert.Equal(ShapesVocabulary.ProbeSettings.Order(), bySetting.Keys.Order());
        foreach (var (_, probes) in bySetting)
        {
            Assert.InRange(probes.Count(s => s.Answer == "yes") - probes.Count(s => s.Answer == "no"), -1, 1);
            Assert.InRange(probes.Count, 6, 14);
        }
        Assert.All(samples.Where(s => s.Task != "existence"), s => Assert.Null(s.Probe));
    }

    [Fact]
    public void Existence_weight_asks_more_probes()
    {
        using var d = new TempDir();
        ShapesGenerator.Write(Small with { TrainScenes = 20, ExistenceWeight = 3, QuestionsPerScene = 9 }, d.Path);
        var samples = ShapesDataset.ReadSplit(d.Path, "train");
        int existence = samples.Count(s => s.Task == "existence"), colour = samples.Count(s => s.Task == "colour");
        Assert.InRange(existence, 3 * samples.Count / 9 - 4, 3 * samples.Count / 9 + 16); // 3 of the 9-entry cycle, plus fall-backs
        Assert.True(existence > 2 * colour, $"existence {existence} vs colour {colour}");
    }

    [Fact]
    public void Pope_negatives_follow_their_setting()
    {
        List<(string Shape, string Colour)> present = [("circle", "red"), ("square", "blue")];
        var random = QuestionSampler.NegativeProbes("random", present);
        Assert.Equal(4 * 5 - 2, random.Count);
        // Popular: the three most frequent absent objects, by shape weight x colour weight: circle/red 0.105 is present,
        // then square/red 0.09, circle/green 0.0875, square/green 0.075 (circle/blue 0.07 is fourth).
        Assert.Equal([("square", "red"), ("circle", "green"), ("square", "green")], QuestionSampler.NegativeProbes("popular", present));
        var adversarial = QuestionSampler.NegativeProbes("adversarial", present);
        Assert.All(adversarial, p => Assert.True(p.Shape is "circle" or "square" || p.Colour is "red" or "blue"));
        Assert.Contains(("triangle", "red"), adversarial);
        Assert.DoesNotContain(("triangle", "green"), adversarial);
        Assert.DoesNotContain(("circle", "red"), adversarial);
        // Absent circles (4 colours) and squares (4), plus red or blue triangles and diamonds (4).
        Assert.Equal(12, adversarial.Count);
    }

    [Fact]
    public void Answers_agree_with_the_scene()
    {
        var scenes = ShapesDataset.ReadScenes(data.Dir, "train").ToDictionary(s => s.Image);
        foreach (var s in ShapesDataset.ReadSplit(data.Dir, "train"))
        {
            var objects = scenes[s.Image].Objects;
            Assert.Equal("<image>\n" + s.Question, s.Conversations[0].Value);
            Assert.Equal(s.Answer, s.Conversations[1].Value);
            switch (s.Task)
            {
                case "colour":
                    var shape = s.Question["what colour is the ".Length..^1];
                    Assert.Equal(objects.Single(o => o.Shape == shape).Colour, s.Answer);
                    break;
                case "shape":
                    var colour = s.Question["what shape is the ".Length..^" object?".Length];
                    Assert.Equal(objects.Single(o => o.Colour == colour).Shape, s.Answer);
                    break;
                case "count":
                    int expected = s.Question == "how many objects are there?"
                        ? objects.Count
                        : objects.Count(o => o.Colour == s.Question.Split(' ')[2]);
                    Assert.Equal(ShapesVocabulary.NumberWord(expected), s.Answer);
                    break;
                case "existence":
                    var words = s.Question.TrimEnd('?').Split(' ');
                    bool present = objects.Any(o => o.Colour == words[3] && o.Shape == words[4]);
                    Assert.Equal(present ? "yes" : "no", s.Answer);
                    break;
                case "position":
                    var named = s.Question["where is the ".Length..^1].Split(' ');
                    Assert.Equal(ShapesVocabulary.PositionWords[objects.Single(o => o.Colour == named[0] && o.Shape == named[1]).Cell], s.Answer);
                    break;
                case "relation":
                    // "is the red circle left of the blue square?"
                    var w = s.Question.TrimEnd('?').Split(' ');
                    var a = objects.Single(o => o.Colour == w[2] && o.Shape == w[3]);
                    string relation = w[4] is "left" or "right" ? w[4] + " of" : w[4];
                    int at = relation.Contains(' ') ? 7 : 6;
                    var b = objects.Single(o => o.Colour == w[at] && o.Shape == w[at + 1]);
                    bool holds = relation switch
                    {
                        "left of" => a.Col < b.Col,
                        "right of" => a.Col > b.Col,
                        "above" => a.Row < b.Row,
                        _ => a.Row > b.Row,
                    };
                    Assert.Equal(holds ? "yes" : "no", s.Answer);
                    break;
                case "caption":
                    Assert.Equal("describe the image.", s.Question);
                    Assert.Equal(Captions.Of(scenes[s.Image]), s.Answer);
                    break;
                default:
                    Assert.Fail($"unexpected task {s.Task}");
                    break;
            }
        }
    }

    [Fact]
    public void Scenes_respect_the_options()
    {
        var scenes = ShapesDataset.ReadScenes(data.Dir, "train");
        Assert.Equal(40, scenes.Count);
        Assert.All(scenes, s =>
        {
            Assert.InRange(s.Objects.Count, 1, 6);
            Assert.Equal(s.Objects.Count, s.Objects.Select(o => o.Cell).Distinct().Count());
            Assert.Equal(s.Objects.Select(o => o.Cell).Order(), s.Objects.Select(o => o.Cell));
            float cell = 32 / 3f;
            Assert.All(s.Objects, o =>
            {
                Assert.InRange(o.X, (o.Col + 0.4f) * cell, (o.Col + 0.6f) * cell);
                Assert.InRange(o.Y, (o.Row + 0.4f) * cell, (o.Row + 0.6f) * cell);
            });
        });
        Assert.True(scenes.Select(s => s.Objects.Count).Distinct().Count() >= 4, "object counts should vary");
    }

    [Fact]
    public void Caption_lists_objects_in_grid_order()
    {
        var scene = new ShapesScene("s", "i.png",
        [
            new SceneObject("square", "blue", "large", 0, 2, 0, 0),
            new SceneObject("circle", "red", "small", 0, 0, 0, 0),
            new SceneObject("triangle", "green", "small", 2, 1, 0, 0),
        ]);
        Assert.Equal("a small red circle, a large blue square and a small green triangle.", Captions.Of(scene));
        Assert.Equal("a small red circle.", Captions.Of(scene with { Objects = [scene.Objects[1]] }));
        Assert.Equal("a small red circle and a large blue square.", Captions.Of(scene with { Objects = [scene.Objects[1], scene.Objects[0]] }));
    }

    [Fact]
    public void Chance_levels()
    {
        var o = ShapesDatasetFixture.Options;
        Assert.Equal(0.2, ShapesChance.ChanceLevel("colour", o));
        Assert.Equal(0.25, ShapesChance.ChanceLevel("shape", o));
        Assert.Equal(1.0 / 6, ShapesChance.ChanceLevel("count", o));
        Assert.Equal(1.0 / 3, ShapesChance.ChanceLevel("count", o with { MinObjects = 2, MaxObjects = 4 }));
        Assert.Equal(0.5, ShapesChance.ChanceLevel("existence", o));
        Assert.Equal(0.5, ShapesChance.ChanceLevel("relation", o));
        Assert.Equal(1.0 / 9, ShapesChance.ChanceLevel("position", o));
        Assert.Equal(0.0, ShapesChance.ChanceLevel("caption", o));
        Assert.Contains("size", Assert.Throws<ArgumentException>(() => ShapesChance.ChanceLevel("size", o)).Message);
    }

    [Fact]
    public void Bad_family_is_named_with_the_allowed_ones()
    {
        using var d = new TempDir();
        var e = Assert.Throws<ArgumentException>(() => ShapesGenerator.Write(Small with { Families = ["colour", "size"] }, d.Path));
        Assert.Contains("'size'", e.Message);
        Assert.Contains("colour, shape, count, position, relation, existence, caption", e.Message);
        Assert.Contains("MaxObjects", Assert.Throws<ArgumentException>(() => (Small with { MaxObjects = 10 }).Validate()).Message);
    }

    [Fact]
    public void Only_the_chosen_families_are_asked_and_questions_in_a_scene_are_distinct()
    {
        using var d = new TempDir();
        var m = ShapesGenerator.Write(Small with { Families = ["count", "existence"], QuestionsPerScene = 4 }, d.Path);
        var samples = ShapesDataset.ReadSplit(d.Path, "train");
        Assert.Equal(16, samples.Count);
        Assert.Equal(8, m.Split("train").Families["count"]);
        Assert.Equal(8, m.Split("train").Families["existence"]);
        Assert.All(samples.GroupBy(s => s.Image), g => Assert.Equal(4, g.Select(s => s.Question).Distinct().Count()));
    }

    [Fact]
    public void WriteOrReuse_keeps_a_matching_dataset_and_rewrites_a_different_one()
    {
        using var d = new TempDir();
        ShapesGenerator.Write(Small, d.Path);
        var png = Path.Combine(d.Path, "images", "train_00000.png");
        var stamp = new DateTime(2001, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(png, stamp);
        ShapesGenerator.WriteOrReuse(Small, d.Path);
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(png));
        var m = ShapesGenerator.WriteOrReuse(Small with { Seed = 99 }, d.Path);
        Assert.NotEqual(stamp, File.GetLastWriteTimeUtc(png));
        Assert.Equal(99, ShapesDataset.TryReadManifest(d.Path)!.Options.Seed);
        Assert.Equal(m.Fingerprint, DatasetFingerprint.Of(Small with { Seed = 99 }));
    }
}
