using Distill.Stages.Workspace;
using Distill.Stages.Scoring;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Preference;
using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>Where pairs come from without a model: the dataset file reader, object mentions and the judges.</summary>
public sealed class PreferencePairSourceTests : IClassFixture<ShapesDatasetFixture>
{
    private readonly ShapesDatasetFixture _data;
    private readonly WordTokenizer _tokenizer;

    public PreferencePairSourceTests(ShapesDatasetFixture data)
    {
        _data = data;
        _tokenizer = WordTokenizer.Build(ShapesCorpus.FromSplit(data.Dir, "train"));
    }

    private SampledResponse Response(string text) => new([.. _tokenizer.Encode(text), _tokenizer.EosId], text);

    [Fact]
    public void Object_mentions_are_colour_words_followed_by_shape_words()
    {
        Assert.Equal([new ObjectName("red", "circle"), new ObjectName("blue", "square"), new ObjectName("green", "triangle")],
            ObjectMentions.Of("A small red circle, a large blue square and a green triangle."));
        Assert.Empty(ObjectMentions.Of("red and a circle, square blue"));
        Assert.Equal([new ObjectName("blue", "square")], ObjectMentions.Of("blue blue square"));
        Assert.Equal("yellow diamond", new ObjectName("yellow", "diamond").ToString());
    }

    [Fact]
    public void Ground_truth_chooses_a_correct_answer_and_rejects_the_most_frequent_wrong_one()
    {
        var responses = new[] { Response("green"), Response("red"), Response("blue"), Response("blue") };
        var verdict = GroundTruthJudge.Judge(AnswerMatch.Words(_tokenizer), responses, "Red")!;
        Assert.Equal(responses[1].Ids, verdict.Chosen);
        Assert.Equal(responses[2].Ids, verdict.Rejected);
        Assert.Equal("ground truth 'red': rejected answered 'blue'", verdict.Judge);
        Assert.Null(GroundTruthJudge.Judge(AnswerMatch.Words(_tokenizer), [Response("red"), Response("RED")], "red")); // all correct
        Assert.Null(GroundTruthJudge.Judge(AnswerMatch.Words(_tokenizer), [Response("blue"), Response("green")], "red"));   // all wrong
    }

    [Fact]
    public void A_caption_naming_an_object_not_in_the_scene_is_rejected()
    {
        var scene = new HashSet<ObjectName> { new("red", "circle"), new("blue", "square") };
        int[] reference = [.. _tokenizer.Encode("a small red circle and a large blue square."), _tokenizer.EosId];
        var faithful = Response("a small red circle and a large blue square.");
        var partial = Response("a small red circle.");
        var one = Response("a small red circle and a large green triangle.");
        var two = Response("a small yellow diamond and a green triangle.");

        var verdict = HallucinationJudge.Judge([partial, one, faithful, two], scene, reference)!;
        Assert.Equal(faithful.Ids, verdict.Chosen);
        Assert.Equal(two.Ids, verdict.Rejected); // names the most objects that are not there
        Assert.Equal("hallucinated: yellow diamond, green triangle; chosen: a faithful sample", verdict.Judge);

        var noFaithful = HallucinationJudge.Judge([partial, one], scene, reference)!; // partial omits an object: not faithful
        Assert.Equal(reference, noFaithful.Chosen);
        Assert.Equal(one.Ids, noFaithful.Rejected);
        Assert.Equal("hallucinated: green triangle; chosen: the reference caption", noFaithful.Judge);

        Assert.Null(HallucinationJudge.Judge([partial, faithful], scene, reference));
    }

    [Fact]
    public void Dataset_file_in_json_lines_gives_judged_pairs_with_ids_images_and_tokens()
    {
        using var dir = new TempDir();
        string image = Path.Combine(_data.Dir, "images", "train_00001.png");
        string path = dir.File("pairs.jsonl");
        File.WriteAllText(path,
            $"{{\"id\": \"p-1\", \"image\": \"{image}\", \"question\": \"<image>\\nwhat colour is the circle?\", \"chosen\": \"red\", \"rejected\": \"blue\"}}\n" +
            "\n" +
            $"{{\"image\": \"{image}\", \"question\": \"describe the image.\", \"chosen\": \"a small red circle.\", \"rejected\": \"a small blue square.\", \"ds_name\": \"x\"}}\n");

        var rows = PreferenceDatasetFile.Read(path, new ShapesData(_data.Dir, _tokenizer, 32, 16));

        Assert.Equal(["p-1", "pairs.jsonl:3"], rows.Select(r => r.SampleId));
        Assert.Equal(ChatTemplate.EncodePrompt(_tokenizer, "what colour is the circle?", 16), rows[0].PromptIds);
        Assert.Equal([.. _tokenizer.Encode("red"), _tokenizer.EosId], rows[0].Responses[0]);
        Assert.Equal([.. _tokenizer.Encode("blue"), _tokenizer.EosId], rows[0].Responses[1]);
        Assert.Equal(ShapesDataset.LoadRgb(image, 32, "x"), rows[1].Image);
        Assert.All(rows, r => Assert.Equal(PreferenceSources.Dataset, r.Source));
        Assert.All(rows, r => Assert.Equal("dataset pairs.jsonl", r.Judge));
    }

    [Fact]
    public void Dataset_file_as_a_json_list_resolves_images_next_to_it()
    {
        string path = Path.Combine(_data.Dir, "pairs-test.json");
        File.WriteAllText(path, """
            [ {"idx": 7, "image": "images/train_00002.png", "question": "is there a red circle?", "chosen": "no", "rejected": "yes"},
              {"image": "images/train_00003.png", "question": "how many objects are there?", "chosen": "two", "rejected": "three"} ]
            """);
        try
        {
            var rows = PreferenceDatasetFile.Read(path, new ShapesData(_data.Dir, _tokenizer, 32, 4));
            Assert.Equal(["7", "pairs-test.json#1"], rows.Select(r => r.SampleId));
            Assert.Equal(32 * 32 * 3, rows[1].Image.Length);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData("{\"image\": \"IMG\", \"question\": \"q?\", \"chosen\": \"red\"}", "pairs.jsonl:2: missing or non-string 'rejected'")]
    [InlineData("{\"image\": \"IMG\", \"question\": \"q?\", \"chosen\": \"red\", \"rejected\": \"red\"}", "pairs.jsonl:2: 'chosen' and 'rejected' are the same")]
    [InlineData("{\"image\": \"IMG\", \"question\": ", "pairs.jsonl:2: malformed JSON")]
    [InlineData("{\"id\": \"a\", \"image\": \"IMG\", \"question\": \"q?\", \"chosen\": \"red\", \"rejected\": \"blue\"}", "pairs.jsonl:2: id 'a' was already used at")]
    [InlineData("{\"image\": \"missing.png\", \"question\": \"q?\", \"chosen\": \"red\", \"rejected\": \"blue\"}", "pairs.jsonl:2")]
    [InlineData("{\"image\": \"IMG\", \"question\": \"q <image> ?\", \"chosen\": \"red\", \"rejected\": \"blue\"}", "pairs.jsonl:2: The question must not contain <image>")]
    public void Dataset_file_errors_name_the_file_and_line(string secondLine, string expected)
    {
        using var dir = new TempDir();
        string image = Path.Combine(_data.Dir, "images", "train_00001.png");
        string path = dir.File("pairs.jsonl");
        File.WriteAllText(path, $"{{\"id\": \"a\", \"image\": \"{image}\", \"question\": \"q?\", \"chosen\": \"red\", \"rejected\": \"blue\"}}\n" +
                                secondLine.Replace("IMG", image) + "\n");
        var e = Assert.ThrowsAny<Exception>(() => PreferenceDatasetFile.Read(path, new ShapesData(_data.Dir, _tokenizer, 32, 4)));
        Assert.True(e is InvalidDataException or FileNotFoundException, e.GetType().Name);
        Assert.Contains(expected.Replace("pairs.jsonl", path), e.Message);
    }
}
