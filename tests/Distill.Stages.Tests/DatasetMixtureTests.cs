using Distill.Stages.Data.Llava;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>Mixtures of LLaVA datasets by weight or sample count, the id-hashed held-out split, and POPE files.</summary>
public sealed class DatasetMixtureTests
{
    private static void Dataset(string file, string prefix, int count) =>
        File.WriteAllLines(file, Enumerable.Range(0, count).Select(i =>
            $$"""{"id": "{{prefix}}{{i}}", "conversations": [{"from": "human", "value": "Q{{i}}"}, {"from": "gpt", "value": "A{{i}}"}]}"""));

    [Fact]
    public void Weights_and_counts_take_each_sources_share_in_a_seeded_interleaved_order()
    {
        using var dir = new TempDir();
        Dataset(dir.File("a.jsonl"), "a", 10);
        Dataset(dir.File("b.jsonl"), "b", 4);
        Dataset(dir.File("c.jsonl"), "c", 6);
        File.WriteAllText(dir.File("mix.json"), """
            {"sources": [{"file": "a.jsonl", "weight": 0.5}, {"file": "b.jsonl", "samples": 10}, {"file": "c.jsonl"}]}
            """);
        var mixture = DatasetMixture.Load(dir.File("mix.json"));

        var mixed = mixture.Mix(seed: 3, new BadSampleBudget());

        Assert.Equal(5 + 10 + 6, mixed.Count);
        Assert.Equal(5, mixed.Count(s => s.Id.StartsWith('a')));
        Assert.Equal(5, mixed.Where(s => s.Id.StartsWith('a')).Select(s => s.Id).Distinct().Count()); // a draw without repeats
        Assert.Equal(10, mixed.Count(s => s.Id.StartsWith('b')));                                     // 4 upsampled to 10:
        Assert.All(mixed.Where(s => s.Id.StartsWith('b')).GroupBy(s => s.Id), g => Assert.InRange(g.Count(), 2, 3));
        Assert.Equal(Enumerable.Range(0, 6).Select(i => $"c{i}").Order(), mixed.Where(s => s.Id.StartsWith('c')).Select(s => s.Id).Order());
        Assert.NotEqual(mixed.Select(s => s.Id).Order(), mixed.Select(s => s.Id));                    // interleaved
        Assert.Equal(mixed.Select(s => s.Id), mixture.Mix(seed: 3, new BadSampleBudget()).Select(s => s.Id));
        Assert.NotEqual(mixed.Select(s => s.Id), mixture.Mix(seed: 4, new BadSampleBudget()).Select(s => s.Id));
    }

    [Theory]
    [InlineData("""{"sources": []}""", "expected {\"sources\"")]
    [InlineData("""{"sources": [{"file": "a.jsonl", "weight": -1}]}""", "sources[0]: 'weight' must be a number >= 0, found -1")]
    [InlineData("""{"sources": [{"file": "a.jsonl", "weight": 1, "samples": 3}]}""", "give 'weight' or 'samples', not both")]
    [InlineData("""{"sources": [{"file": "a.jsonl", "ratio": 1}]}""", "unknown key 'ratio'; allowed: file, image_folder, weight, samples")]
    [InlineData("""{"sources": [{"weight": 1}]}""", "sources[0]: missing 'file'")]
    [InlineData("""{"sources": [""", "malformed JSON in the mixture manifest")]
    public void A_bad_manifest_is_refused_naming_the_file_and_the_entry(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("mix.json"), json);
        var e = Assert.Throws<InvalidDataException>(() => DatasetMixture.Load(dir.File("mix.json")));
        Assert.Contains(dir.File("mix.json"), e.Message);
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void The_held_out_split_depends_on_the_id_alone_and_holds_its_ratio()
    {
        var ids = Enumerable.Range(0, 20000).Select(i => $"sample-{i}").ToList();
        var held = ids.Count(id => HeldOutSplit.IsHeldOut(id, 0.1));
        Assert.InRange(held, 1800, 2200); // binomial(20000, 0.1): sd 42
        Assert.Equal(ids.Where(id => HeldOutSplit.IsHeldOut(id, 0.1)), ids.AsEnumerable().Reverse().Where(id => HeldOutSplit.IsHeldOut(id, 0.1)).Reverse());
        Assert.All(ids.Where(id => HeldOutSplit.IsHeldOut(id, 0.05)), id => Assert.True(HeldOutSplit.IsHeldOut(id, 0.1))); // nested
        Assert.DoesNotContain(ids, id => HeldOutSplit.IsHeldOut(id, 0));
        Assert.All(ids, id => Assert.True(HeldOutSplit.IsHeldOut(id, 1)));
    }

    [Fact]
    public void Pope_files_read_label_and_setting_from_the_record_or_the_file_name_and_bad_lines_are_counted()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("v.jpg"), [1, 2, 3]);
        var file = dir.File("coco_pope_adversarial.json");
        File.WriteAllLines(file,
        [
            """{"question_id": 1, "image": "v.jpg", "text": "Is there a dog in the image?", "label": "yes"}""",
            """{"question_id": 2, "image": "v.jpg", "text": "Is there a cat in the image?", "label": "no", "category": "popular"}""",
            """{"question_id": 3, "image": "v.jpg", "text": "Is there a car?", "label": "maybe"}""",
            """{"question_id": 4, "image": "../x.jpg", "text": "Is there a car?", "label": "no"}""",
        ]);
        var budget = new BadSampleBudget(1);
        var read = PopeQuestion.Read(file, dir.Path, budget).ToList();
        Assert.Equal([("1", true, "adversarial"), ("2", false, "popular")], read.Select(q => (q.QuestionId, q.Label, q.Setting)));
        Assert.Equal(dir.File("v.jpg"), read[0].Image);
        Assert.Equal(["line 3: label 'maybe'; expected yes or no", "line 4"], budget.Bad.Select(b => b.Sample == "line 3" ? $"{b.Sample}: {b.Reason}" : b.Sample));
    }
}
