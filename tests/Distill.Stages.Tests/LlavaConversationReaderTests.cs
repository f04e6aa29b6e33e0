using Distill.Stages.Data.Llava;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>LLaVA conversation datasets as users bring them: JSON and JSONL, images in a folder, multi-turn and
/// text-only samples, and every kind of bad sample reported once with its id and reason, skipped and counted.</summary>
public sealed class LlavaConversationReaderTests
{
    private static string Image(TempDir dir, string relative, int bytes = 16)
    {
        var path = dir.File(relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, Enumerable.Repeat((byte)7, bytes).ToArray());
        return path;
    }

    private const string Good = """
        {"id": "a", "image": "coco/1.jpg", "conversations": [{"from": "human", "value": "What is this?\n<image>"}, {"from": "gpt", "value": "A cat."}]}
        """;

    [Fact]
    public void Json_and_jsonl_read_the_same_samples_with_multi_turn_text_only_and_numeric_ids()
    {
        using var dir = new TempDir();
        var image = Image(dir, "coco/1.jpg");
        Image(dir, "coco/2.png");
        var samples = new[]
        {
            Good,
            """{"id": 42, "image": "coco/2.png", "conversations": [{"from": "human", "value": "Colour?"}, {"from": "gpt", "value": "Red."}, {"from": "human", "value": "Shape?"}, {"from": "gpt", "value": "Round."}]}""",
            """{"id": "t", "conversations": [{"from": "human", "value": "Say hi."}, {"from": "gpt", "value": "Hi."}]}""",
        };
        File.WriteAllText(dir.File("train.json"), "[\n" + string.Join(",\n", samples) + "\n]\n");
        File.WriteAllText(dir.File("train.jsonl"), string.Join("\n", samples) + "\n\n");

        foreach (var file in new[] { "train.json", "train.jsonl" })
        {
            var budget = new BadSampleBudget();
            var read = LlavaConversationReader.Read(dir.File(file), null, budget).ToList();
            Assert.Empty(budget.Bad);
            Assert.Equal(["a", "42", "t"], read.Select(s => s.Id));
            Assert.Equal(image, read[0].Image);
            Assert.Equal("What is this?\n<image>", read[0].Turns[0].Value);            // kept where the dataset put it
            Assert.Equal("<image>\nColour?", read[1].Turns[0].Value);                 // prepended, as LLaVA does
            Assert.Equal(4, read[1].Turns.Count);
            Assert.Null(read[2].Image);
            Assert.Equal("Say hi.", read[2].Turns[0].Value);
            Assert.Equal(dir.File(file), read[0].Source);
        }
    }

    [Fact]
    public void Every_kind_of_bad_sample_is_reported_once_with_its_id_and_reason_and_skipped()
    {
        using var dir = new TempDir();
        Image(dir, "images/1.jpg");
        Image(dir, "images/empty.jpg", bytes: 0);
        Image(dir, "outside.jpg");
        string Turns(string human, string gpt) => $$"""[{"from": "human", "value": "{{human}}"}, {"from": "gpt", "value": "{{gpt}}"}]""";
        var lines = new[]
        {
            $$"""{"id": "ok", "image": "1.jpg", "conversations": {{Turns("Q", "A")}}}""",
            "[1, 2]",
            $$"""{"conversations": {{Turns("Q", "A")}}}""",
            $$"""{"id": "ok", "conversations": {{Turns("Q", "A")}}}""",
            $$"""{"id": "escape", "image": "../outside.jpg", "conversations": {{Turns("Q", "A")}}}""",
            $$"""{"id": "absolute", "image": "/etc/passwd", "conversations": {{Turns("Q", "A")}}}""",
            $$"""{"id": "missing", "image": "nope.jpg", "conversations": {{Turns("Q", "A")}}}""",
            $$"""{"id": "empty", "image": "empty.jpg", "conversations": {{Turns("Q", "A")}}}""",
            """{"id": "noconv", "image": "1.jpg"}""",
            """{"id": "order", "conversations": [{"from": "gpt", "value": "A"}, {"from": "human", "value": "Q"}]}""",
            """{"id": "role", "conversations": [{"from": "system", "value": "S"}, {"from": "gpt", "value": "A"}]}""",
            """{"id": "noanswer", "conversations": [{"from": "human", "value": "Q"}]}""",
            $$"""{"id": "blank", "conversations": {{Turns("Q", " ")}}}""",
            """{"id": "late-image", "image": "1.jpg", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A <image>"}]}""",
            $$"""{"id": "two-images", "image": "1.jpg", "conversations": {{Turns("<image> <image> Q", "A")}}}""",
            $$"""{"id": "no-image", "conversations": {{Turns("<image>\\nQ", "A")}}}""",
            """{"id": "turn", "conversations": ["Q", "A"]}""",
            "{\"id\": \"broken\", ",
        };
        var file = dir.File("data.jsonl");
        File.WriteAllText(file, string.Join("\n", lines));
        var reported = new List<string>();
        var budget = new BadSampleBudget(maxBadFraction: 1, report: b => reported.Add(b.ToString()));

        var read = LlavaConversationReader.Read(file, dir.File("images"), budget).ToList();

        Assert.Equal(["ok"], read.Select(s => s.Id));
        var reasons = budget.Bad.Select(b => (b.Sample, b.Reason)).ToList();
        Assert.Equal(17, reasons.Count);
        Assert.Equal(reported, budget.Bad.Select(b => b.ToString()));
        Assert.All(budget.Bad, b => Assert.Equal(file, b.File));
        void Has(string sample, string reason) => Assert.Contains(reasons, r => r.Sample == sample && r.Reason.Contains(reason));
        Has("line 2", "is a JSON array, expected an object");
        Has("line 3", "missing or non-string, non-number 'id'");
        Has("'ok'", "the id appears a second time");
        Has("'escape'", "escapes the image folder");
        Has("'absolute'", "escapes the image folder");
        Has("'missing'", "image file not found");
        Has("'empty'", "image file is empty");
        Has("'noconv'", "no conversations");
        Has("'order'", "turns in the wrong order: turn 0 is from 'gpt' where 'human' was expected");
        Has("'role'", "turn 0 is from 'system'; supported: human, gpt");
        Has("'noanswer'", "no answer: the last turn is from 'human'");
        Has("'blank'", "no answer: turn 1 from 'gpt' is empty");
        Has("'late-image'", "<image> in turn 1; it may only stand in the first human turn");
        Has("'two-images'", "<image> 2 times");
        Has("'no-image'", "<image> in the text but no 'image'");
        Has("'turn'", "turn 0 is not {\"from\": string, \"value\": string}");
        Has("line 18", "malformed JSON at column");
    }

    [Fact]
    public void A_malformed_json_list_stops_with_file_line_and_column_and_a_missing_file_or_folder_is_named()
    {
        using var dir = new TempDir();
        Image(dir, "coco/1.jpg");
        var file = dir.File("train.json");
        File.WriteAllText(file, "[\n" + Good + ",\n  {\"id\": \"b\" \"conversations\": []}\n]");
        var e = Assert.Throws<InvalidDataException>(() => LlavaConversationReader.Read(file, null, new BadSampleBudget()).ToList());
        Assert.StartsWith($"{file}:3:", e.Message);
        Assert.Contains("malformed JSON in the list of samples", e.Message);

        var missing = Assert.Throws<FileNotFoundException>(() => LlavaConversationReader.Read(dir.File("nope.json"), null, new BadSampleBudget()).ToList());
        Assert.Contains(dir.File("nope.json"), missing.Message);
        var folder = Assert.Throws<DirectoryNotFoundException>(() => LlavaConversationReader.Read(file, dir.File("no-images"), new BadSampleBudget()).ToList());
        Assert.Contains("distill.data.image-folder", folder.Message);
        File.WriteAllText(file, "{\"id\": 1}");
        Assert.Contains("expected a JSON list", Assert.Throws<InvalidDataException>(() => LlavaConversationReader.Read(file, null, new BadSampleBudget()).ToList()).Message);
    }

    [Fact]
    public void Strict_stops_at_the_first_bad_sample_and_the_budget_fails_past_its_fraction_naming_the_count()
    {
        using var dir = new TempDir();
        var file = dir.File("d.jsonl");
        var good = Enumerable.Range(0, 99).Select(i => $$"""{"id": "{{i}}", "conversations": [{"from": "human", "value": "Q"}, {"from": "gpt", "value": "A"}]}""");
        File.WriteAllLines(file, [.. good, """{"id": "bad"}"""]);

        var onePercent = new BadSampleBudget(0.01);
        Assert.Equal(99, LlavaConversationReader.Read(file, null, onePercent).Count());
        onePercent.Check(); // 1 of 100 is within 1%

        File.AppendAllLines(file, ["""{"id": "bad2"}"""]);
        var exceeded = new BadSampleBudget(0.01);
        _ = LlavaConversationReader.Read(file, null, exceeded).Count();
        var e = Assert.Throws<BadDataException>(exceeded.Check);
        Assert.Contains("2 of 101 samples are bad (2.0%), more than distill.data.max-bad-fraction = 0.01", e.Message);
        Assert.Contains("sample 'bad': no conversations", e.Message);

        var strict = new BadSampleBudget(strict: true);
        var stop = Assert.Throws<BadDataException>(() => LlavaConversationReader.Read(file, null, strict).Count());
        Assert.Contains("distill.data.strict = true", stop.Message);
        Assert.Equal(99, strict.Good);
    }

    [Fact]
    public void The_reader_never_writes_into_the_users_folder()
    {
        using var dir = new TempDir();
        Image(dir, "coco/1.jpg");
        File.WriteAllText(dir.File("train.json"), "[" + Good + "]");
        var before = Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        _ = LlavaConversationReader.Read(dir.File("train.json"), null, new BadSampleBudget()).ToList();
        var after = Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories);
        Assert.Equal(before.Keys.Order(), after.Order());
        Assert.All(after, f => Assert.Equal(before[f], File.ReadAllBytes(f)));
    }
}
