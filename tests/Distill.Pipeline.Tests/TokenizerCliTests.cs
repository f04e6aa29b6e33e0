using Distill.Stages.Tests;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill tokenizer encode</c> on the real tokenizer files: its output is Hugging Face's reference
/// (tests/fixtures/tokenizers) line for line, byte for byte.</summary>
public sealed class TokenizerCliTests
{
    [Theory]
    [InlineData("qwen3", "reference.jsonl")]
    [InlineData("llama3", "reference.jsonl")]
    [InlineData("llama2", "reference-llama2.jsonl")]
    public async Task Encode_writes_hugging_faces_reference_lines(string name, string referenceFile)
    {
        using var h = new CliHarness();
        var strings = Path.Combine(TokenizerFixtures.FixtureDir, "strings.json");
        var code = await h.Run("tokenizer", "encode", "--tokenizer", TokenizerFixtures.TokenizerDir(name),
            "--strings", strings, "--out", "out.jsonl");
        Assert.True(code == 0, h.Err.ToString());

        var expected = File.ReadAllLines(Path.Combine(TokenizerFixtures.FixtureDir, referenceFile))
            .Where(l => l.StartsWith($"{{\"tokenizer\": \"{name}\"", StringComparison.Ordinal)).ToArray();
        var written = File.ReadAllLines(Path.Combine(h.Dir.Path, "out.jsonl"));
        Assert.Equal(49, expected.Length);
        Assert.Equal(expected, written);
        Assert.Contains("49 string(s) encoded", h.Out.ToString());
    }

    [Fact]
    public async Task An_existing_out_file_is_never_overwritten()
    {
        using var h = new CliHarness();
        var existing = Path.Combine(h.Dir.Path, "mine.jsonl");
        File.WriteAllText(existing, "the user's file\n");
        var code = await h.Run("tokenizer", "encode", "--tokenizer", TokenizerFixtures.TokenizerDir("qwen3"),
            "--strings", Path.Combine(TokenizerFixtures.FixtureDir, "strings.json"), "--out", "mine.jsonl");
        Assert.Equal(2, code);
        Assert.Contains($"{existing} exists: refusing to overwrite it", h.Err.ToString());
        Assert.Equal("the user's file\n", File.ReadAllText(existing));
    }

    [Fact]
    public async Task A_folder_without_tokenizer_json_is_named_and_nothing_is_written()
    {
        using var h = new CliHarness();
        Directory.CreateDirectory(Path.Combine(h.Dir.Path, "empty"));
        File.WriteAllText(Path.Combine(h.Dir.Path, "s.json"), "[\"hi\"]");
        var code = await h.Run("tokenizer", "encode", "--tokenizer", "empty", "--strings", "s.json", "--out", "o.jsonl");
        Assert.Equal(2, code);
        Assert.Contains(Path.Combine(h.Dir.Path, "empty", "tokenizer.json"), h.Err.ToString());
        Assert.False(File.Exists(Path.Combine(h.Dir.Path, "o.jsonl")));
    }
}
