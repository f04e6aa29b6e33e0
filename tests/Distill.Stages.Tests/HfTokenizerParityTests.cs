using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>HfTokenizer against Hugging Face's own ids and decodes (tests/fixtures/tokenizers) on real files:
/// byte-level Qwen3 and Llama 3, SentencePiece-style with byte fallback (the llama2 package's file).</summary>
public sealed class HfTokenizerParityTests
{
    public static TheoryData<string> Tokenizers => new() { "qwen3", "llama3", "llama2" };

    [Theory]
    [MemberData(nameof(Tokenizers))]
    public void Every_reference_string_gets_hugging_faces_ids_and_decode(string name)
    {
        var tokenizer = HfTokenizer.Load(TokenizerFixtures.TokenizerDir(name));
        var references = TokenizerFixtures.References(name);
        Assert.Equal(TokenizerFixtures.Strings(), references.Select(r => r.Text));
        Assert.Equal(49, references.Count);

        var wrong = new List<string>();
        foreach (var r in references)
        {
            var ids = tokenizer.Encode(r.Text);
            if (!ids.SequenceEqual(r.Ids))
                wrong.Add($"ids of {Show(r.Text)}: [{string.Join(", ", ids)}], HF [{string.Join(", ", r.Ids)}]");
            string decoded = tokenizer.Decode(r.Ids);
            if (decoded != r.Decoded) wrong.Add($"decode of {Show(r.Text)}: {Show(decoded)}, HF {Show(r.Decoded)}");
        }
        Assert.True(wrong.Count == 0, $"{name}: {wrong.Count} differences from Hugging Face:\n" + string.Join("\n", wrong));
    }

    private static string Show(string s) => System.Text.Json.JsonSerializer.Serialize(s);
}
