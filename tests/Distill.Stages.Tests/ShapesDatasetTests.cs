using Xunit;
using Distill.Stages.Data;

namespace Distill.Stages.Tests;

public sealed class ShapesDatasetTests(ShapesDatasetFixture data) : IClassFixture<ShapesDatasetFixture>
{
    [Fact]
    public void LoadRgb_gives_background_and_object_colours()
    {
        var scene = ShapesDataset.ReadScenes(data.Dir, "test")[0];
        var sample = ShapesDataset.ReadSplit(data.Dir, "test").First(s => s.Image == scene.Image);
        var rgb = ShapesDataset.LoadRgb(data.Dir, sample, 32);
        Assert.Equal(32 * 32 * 3, rgb.Length);
        var bg = ShapesVocabulary.Background;
        Assert.Equal(new[] { bg.R, bg.G, bg.B }, rgb[0..3]); // the top-left corner is never covered
        foreach (var o in scene.Objects)
        {
            int x = (int)o.X, y = (int)o.Y, p = (y * 32 + x) * 3;
            var c = ShapesVocabulary.Rgb(o.Colour);
            Assert.Equal(new[] { c.R, c.G, c.B }, rgb[p..(p + 3)]);
        }
    }

    [Fact]
    public void The_questions_of_one_scene_share_one_decoded_image()
    {
        var shapes = new Distill.Stages.Workspace.ShapesData(data.Dir,
            Distill.Stages.Text.WordTokenizer.Build(Distill.Stages.Text.ShapesCorpus.FromSplit(data.Dir, "train")), 32, 4);
        var samples = shapes.Samples("val");
        var rows = shapes.Rows("val");
        Assert.Equal(6 * 5, rows.Count);
        foreach (var scene in samples.Select((s, i) => (s.Image, Row: rows[i])).GroupBy(x => x.Image))
        {
            var first = scene.First().Row.Image;
            Assert.All(scene, x => Assert.Same(first, x.Row.Image));                                  // one array per scene
            Assert.Equal(ShapesDataset.LoadRgb(data.Dir, samples.First(s => s.Image == scene.Key), 32), first);
        }
        Assert.Equal(6, rows.Select(r => r.Image).Distinct().Count());
    }

    [Fact]
    public void LoadRgb_resizes()
    {
        var sample = ShapesDataset.ReadSplit(data.Dir, "val")[0];
        var rgb = ShapesDataset.LoadRgb(data.Dir, sample, 16);
        Assert.Equal(16 * 16 * 3, rgb.Length);
        var bg = ShapesVocabulary.Background;
        Assert.InRange(rgb[0], bg.R - 3, bg.R + 3);
        Assert.InRange(rgb[2], bg.B - 3, bg.B + 3);
    }

    [Fact]
    public void LoadRgb_names_a_missing_image()
    {
        var sample = ShapesDataset.ReadSplit(data.Dir, "val")[0] with { Id = "val_x", Image = "images/nope.png" };
        var e = Assert.Throws<FileNotFoundException>(() => ShapesDataset.LoadRgb(data.Dir, sample, 32));
        Assert.Contains("val_x", e.Message);
        Assert.Contains("nope.png", e.Message);
    }

    [Fact]
    public void ReadSplit_parses_the_llava_json()
    {
        var s = ShapesDataset.ReadSplit(data.Dir, "test")[0];
        Assert.Equal("test_00000_00", s.Id);
        Assert.Equal("images/test_00000.png", s.Image);
        Assert.Equal(2, s.Conversations.Count);
        Assert.Equal(new Turn("human", "<image>\n" + s.Question), s.Conversations[0]);
        Assert.Equal(new Turn("gpt", s.Answer), s.Conversations[1]);
        Assert.Contains("\"value\": \"<image>\\n", File.ReadAllText(Path.Combine(data.Dir, "test.json")));
    }

    [Fact]
    public void ReadSplit_names_a_missing_or_malformed_file()
    {
        using var d = new TempDir();
        Assert.Contains("train.json", Assert.Throws<FileNotFoundException>(() => ShapesDataset.ReadSplit(d.Path, "train")).Message);
        File.WriteAllText(d.File("train.json"), "[{\"id\": ");
        Assert.Contains("train.json", Assert.Throws<InvalidDataException>(() => ShapesDataset.ReadSplit(d.Path, "train")).Message);
    }

    [Fact]
    public void ReadSplit_names_a_malformed_sample()
    {
        using var d = new TempDir();
        File.WriteAllText(d.File("val.json"), """
            [{"id":"ok_1","image":"images/a.png","task":"colour","answer":"red",
              "conversations":[{"from":"human","value":"<image>\nwhat colour is the circle?"},{"from":"gpt","value":"red"}]},
             {"id":"bad_2","image":"images/a.png","task":"colour","answer":"red",
              "conversations":[{"from":"human","value":"what colour is the circle?"},{"from":"gpt","value":"red"}]}]
            """);
        var e = Assert.Throws<InvalidDataException>(() => ShapesDataset.ReadSplit(d.Path, "val"));
        Assert.Contains("bad_2", e.Message);
        Assert.Contains("val.json", e.Message);
    }

    [Fact]
    public void ReadSplit_reads_the_pope_probe_and_names_a_bad_one()
    {
        using var d = new TempDir();
        const string Turns = """ "conversations":[{"from":"human","value":"<image>\nis there a red circle?"},{"from":"gpt","value":"no"}]""";
        File.WriteAllText(d.File("val.json"), $$"""[{"id":"e_1","image":"images/a.png","task":"existence","answer":"no","probe":"adversarial",{{Turns}}}]""");
        Assert.Equal("adversarial", ShapesDataset.ReadSplit(d.Path, "val").Single().Probe);
        File.WriteAllText(d.File("val.json"), $$"""[{"id":"e_2","image":"images/a.png","task":"existence","answer":"no","probe":"rare",{{Turns}}}]""");
        var e = Assert.Throws<InvalidDataException>(() => ShapesDataset.ReadSplit(d.Path, "val"));
        Assert.Contains("e_2", e.Message);
        Assert.Contains("random, popular, adversarial", e.Message);
    }

    [Fact]
    public void TryReadManifest_is_null_without_a_manifest()
    {
        using var d = new TempDir();
        Assert.Null(ShapesDataset.TryReadManifest(d.Path));
        File.WriteAllText(d.File("dataset.json"), "{not json");
        Assert.Contains("dataset.json", Assert.Throws<InvalidDataException>(() => ShapesDataset.TryReadManifest(d.Path)).Message);
    }

    [Fact]
    public void ReadScenes_names_the_file_on_bad_objects()
    {
        using var d = new TempDir();
        File.WriteAllText(d.File("scenes_test.json"),
            """[{"id":"test_00000","image":"images/test_00000.png","objects":[{"shape":"hexagon","colour":"red","size":"small","row":0,"col":0,"x":5,"y":5}]}]""");
        var e = Assert.Throws<InvalidDataException>(() => ShapesDataset.ReadScenes(d.Path, "test"));
        Assert.Contains("scenes_test.json", e.Message);
        Assert.Contains("test_00000", e.Message);
    }
}
