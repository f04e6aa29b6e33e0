using Distill.Stages.Scoring;
using Distill.Stages.Data.Llava;
using Distill.Stages.Evaluation;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>CHAIR on real captions: an object vocabulary with synonyms, ground-truth objects per image, and the same
/// CHAIR_i / CHAIR_s / recall arithmetic as the Shapes captions, hand-computed.</summary>
public sealed class RealChairTests
{
    private static readonly ObjectVocabulary Vocabulary = new(new Dictionary<string, IReadOnlyList<string>>
    {
        ["person"] = ["person", "people", "man", "woman"],
        ["dog"] = ["dog", "dogs", "puppy"],
        ["dining table"] = ["dining table", "table"],
        ["hot dog"] = ["hot dog", "hot dogs"],
        ["car"] = ["car", "cars"],
    });

    [Fact]
    public void Mentions_are_whole_words_longest_name_first_each_object_once()
    {
        Assert.Equal(["person", "dog", "dining table"], Vocabulary.Mentions("A man and a woman feed a puppy at the dining table; the dog sleeps."));
        Assert.Equal(["hot dog"], Vocabulary.Mentions("Hot dogs on a plate")); // not "dog"
        Assert.Empty(Vocabulary.Mentions("Carpets and doghouses")); // no word inside another
    }

    [Fact]
    public void Chair_counts_hallucinated_mentions_and_captions_as_hand_computed()
    {
        var judged = new[]
        {
            Vocabulary.Judge("A man walks a dog past a car.", ["person", "dog"]),      // car hallucinated: 1 of 3
            Vocabulary.Judge("People at a table.", ["person", "dining table", "car"]), // none: 0 of 2, recall 2 of 3
            Vocabulary.Judge("A sunny street.", ["car"]),                             // no mention
        };
        var score = ChairMetrics.Compute(judged);
        Assert.Equal((3, 1, 5, 1, 1), (score.Captions, score.HallucinatingCaptions, score.Mentions, score.HallucinatedMentions, score.CaptionsWithoutMentions));
        Assert.Equal(1.0 / 5, score.ChairI, 12);
        Assert.Equal(1.0 / 3, score.ChairS, 12);
        Assert.Equal(4.0 / 6, score.ObjectRecall, 12);
        Assert.Contains("not in the vocabulary: zebra", Assert.Throws<ArgumentException>(() => Vocabulary.Judge("x", ["zebra"])).Message);
    }

    [Fact]
    public void Caption_truth_and_vocabulary_files_read_with_bad_lines_counted()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("a.jpg"), [1]);
        File.WriteAllText(dir.File("vocab.json"), """{"dog": ["dog", "puppy"], "person": ["man"]}""");
        File.WriteAllLines(dir.File("chair.jsonl"),
        [
            """{"id": 7, "image": "a.jpg", "objects": ["dog"]}""",
            """{"id": 8, "image": "a.jpg"}""",
            """{"id": 9, "image": "../a.jpg", "objects": []}""",
        ]);
        var budget = new BadSampleBudget(1);
        var truth = CaptionTruth.Read(dir.File("chair.jsonl"), dir.Path, budget).ToList();
        Assert.Equal([("7", dir.File("a.jpg"), "dog")], truth.Select(t => (t.Id, t.Image, string.Join(",", t.Objects))));
        Assert.Equal(["line 2: needs 'objects', a list of object names", "line 3"], budget.Bad.Select(b => b.Sample == "line 2" ? $"{b.Sample}: {b.Reason}" : b.Sample));
        Assert.Equal(["dog", "person"], ObjectVocabulary.Load(dir.File("vocab.json")).Mentions("A man with a puppy").Order());
        File.WriteAllText(dir.File("bad.json"), """["dog"]""");
        Assert.Contains(dir.File("bad.json"), Assert.Throws<InvalidDataException>(() => ObjectVocabulary.Load(dir.File("bad.json"))).Message);
    }
}
