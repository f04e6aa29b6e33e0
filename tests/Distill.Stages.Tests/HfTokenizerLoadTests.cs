using System.Security.Cryptography;
using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>What HfTokenizer.Load reads besides the ids: BOS/EOS/pad from tokenizer_config.json, the hash, the vocab
/// size; and how it refuses a folder it cannot read (the error names the file and the key).</summary>
public sealed class HfTokenizerLoadTests
{
    [Fact]
    public void Special_ids_come_from_tokenizer_config_json()
    {
        var qwen = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("qwen3"));
        Assert.Equal((null, 151645, 151643), (qwen.BosId, qwen.EosId, qwen.PadId)); // <|im_end|>, <|endoftext|>
        Assert.False(qwen.AddsBos);
        Assert.Equal(151669, qwen.VocabSize);
        Assert.Equal(151655, qwen.TokenToId("<|image_pad|>"));
        Assert.Equal("qwen3", qwen.Name);

        var llama3 = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("llama3"));
        Assert.Equal((128000, 128001), (llama3.BosId, llama3.EosId));
        Assert.False(llama3.AddsBos); // this file's post_processor is ByteLevel, its config has no add_bos_token
        Assert.Equal(128256, llama3.VocabSize);

        var llama2 = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("llama2"));
        Assert.Equal((1, 2, null), (llama2.BosId, llama2.EosId, llama2.PadId));
        Assert.True(llama2.AddsBos);
        Assert.False(llama2.AddsEos);
        Assert.Equal(32000, llama2.VocabSize);
    }

    [Fact]
    public void Hash_is_the_sha256_of_tokenizer_json()
    {
        var dir = TokenizerFixtures.TokenizerDir("llama2");
        var hash = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(dir, "tokenizer.json"))));
        Assert.Equal("fc4f0bd70b3709312d9d1d9e5ba674794b6bc5abc17429897a540f93882f25fc", hash);
        Assert.Equal(hash, HfTokenizer.Load(dir).Hash);
    }

    [Fact]
    public void Byte_fallback_and_added_tokens_inside_text()
    {
        var llama2 = HfTokenizer.Load(TokenizerFixtures.TokenizerDir("llama2"));
        // HF (npm tokenizers 0.23.2): ["▁a", "<0xF0>", "<0x9F>", "<0xA6>", "<0x99>", "b", "</s>"]; 🦙 is not in the vocabulary.
        var ids = llama2.Encode("a\U0001F999b</s>");
        Assert.Equal([264, 243, 162, 169, 156, 28726, 2], ids);
        Assert.Equal("<0xF0>", llama2.IdToToken(243));
        Assert.Equal("a\U0001F999b</s>", llama2.Decode(ids));
        Assert.Equal("a\uFFFD\uFFFDb", llama2.Decode([264, 243, 162, 28726])); // an incomplete byte run: U+FFFD per byte
        Assert.Equal(llama2.Decode([264]), llama2.Decode([264, 32000, -1])); // ids outside the vocabulary are left out, as HF's decoder does
    }

    [Fact]
    public void A_missing_folder_or_file_is_named()
    {
        using var dir = new TempDir();
        var missing = Path.Combine(dir.Path, "nope");
        Assert.Contains(missing, Assert.Throws<DirectoryNotFoundException>(() => HfTokenizer.Load(missing)).Message);
        var e = Assert.Throws<FileNotFoundException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains(Path.Combine(dir.Path, "tokenizer.json"), e.Message);
    }

    [Fact]
    public void Malformed_json_names_the_file_and_line()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), "{\n  \"model\": {\n    \"type\": \"BPE\",,\n");
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains(dir.File("tokenizer.json"), e.Message);
        Assert.Contains("malformed JSON at line 3", e.Message);
    }

    [Theory]
    [InlineData("WordPiece")]
    [InlineData("Unigram")]
    public void A_model_other_than_bpe_is_refused_naming_what_is_supported(string type)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), "{\"model\": {\"type\": \"" + type + "\", \"vocab\": {}}}");
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains($"'model.type' is '{type}'", e.Message);
        Assert.Contains("BPE models only", e.Message);
        Assert.Contains(dir.File("tokenizer.json"), e.Message);
    }

    [Fact]
    public void Missing_keys_and_unsupported_steps_are_named()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer.json"), """{"model": {"type": "BPE", "vocab": {"a": 0}}}""");
        Assert.Contains("'model.merges' is missing", Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir.Path)).Message);

        File.WriteAllText(dir.File("tokenizer.json"),
            """{"normalizer": {"type": "BertNormalizer"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        var e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains("'normalizer.type' is 'BertNormalizer'", e.Message);
        Assert.Contains("supported: NFC", e.Message);

        File.WriteAllText(dir.File("tokenizer.json"), """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}""");
        Assert.Contains("'model.merges[0]'", Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir.Path)).Message);

        File.WriteAllText(dir.File("tokenizer.json"), """{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}""");
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"eos_token": "</s>"}""");
        e = Assert.Throws<InvalidDataException>(() => HfTokenizer.Load(dir.Path));
        Assert.Contains("'eos_token' is '</s>'", e.Message);
        Assert.Contains("tokenizer_config.json", e.Message);
    }
}
