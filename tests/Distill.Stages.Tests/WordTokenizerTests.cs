using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class WordTokenizerTests
{
    private static readonly WordTokenizer Tok = WordTokenizer.Build(["Is there a red circle?", "yes", "a small red circle, a large blue square."]);

    [Fact]
    public void Build_puts_specials_first_then_sorted_words()
    {
        Assert.Equal(
            ["<pad>", "<s>", "</s>", "<unk>", "<image>", "<|user|>", "<|assistant|>",
             ",", ".", "?", "a", "blue", "circle", "is", "large", "red", "small", "square", "there", "yes"],
            Tok.Tokens);
        Assert.Equal(20, Tok.VocabSize);
        Assert.Equal((0, 1, 2, 3, 4, 5, 6), (Tok.PadId, Tok.BosId, Tok.EosId, Tok.UnkId, Tok.ImageId, Tok.UserId, Tok.AssistantId));
    }

    [Fact]
    public void Encode_lowercases_splits_punctuation_and_maps_unknowns()
    {
        Assert.Equal([13, 18, 10, 15, 12, 9], Tok.Encode("Is there a RED circle?"));
        Assert.Equal([4, 10, 3, 12, 3], Tok.Encode("<image>a green circle!"));
        Assert.Empty(Tok.Encode("  \n "));
    }

    [Fact]
    public void Decode_round_trips_and_skips_specials()
    {
        Assert.Equal("is there a red circle?", Tok.Decode(Tok.Encode("is there a red circle?")));
        Assert.Equal("a small red circle, a large blue square.", Tok.Decode(Tok.Encode("a small red circle, a large blue square.")));
        Assert.Equal("yes", Tok.Decode([1, 5, 4, 4, 6, 19, 2, 0]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tok.Decode([20]));
    }

    [Fact]
    public void Save_and_load_keep_tokens_and_hash()
    {
        using var d = new TempDir();
        Tok.Save(d.File("tok.json"));
        Assert.Contains("\"format\": \"distill-word-tokenizer/v1\"", File.ReadAllText(d.File("tok.json")));
        var back = WordTokenizer.Load(d.File("tok.json"));
        Assert.Equal(Tok.Tokens, back.Tokens);
        Assert.Equal(Tok.Hash, back.Hash);
        Assert.Equal(64, Tok.Hash.Length);
        Assert.NotEqual(Tok.Hash, WordTokenizer.Build(["yes no"]).Hash);
    }

    [Fact]
    public void Load_names_the_file_on_bad_content()
    {
        using var d = new TempDir();
        File.WriteAllText(d.File("a.json"), """{"format":"other/v1","tokens":[]}""");
        Assert.Contains("a.json", Assert.Throws<InvalidDataException>(() => WordTokenizer.Load(d.File("a.json"))).Message);
        File.WriteAllText(d.File("b.json"),
            """{"format":"distill-word-tokenizer/v1","tokens":["<pad>","<s>","</s>","<unk>","<image>","<|assistant|>","<|user|>"]}""");
        var e = Assert.Throws<InvalidDataException>(() => WordTokenizer.Load(d.File("b.json")));
        Assert.Contains("b.json", e.Message);
        Assert.Contains("<|user|>", e.Message);
        File.WriteAllText(d.File("c.json"), "{");
        Assert.Contains("c.json", Assert.Throws<InvalidDataException>(() => WordTokenizer.Load(d.File("c.json"))).Message);
        Assert.Contains("d.json", Assert.Throws<FileNotFoundException>(() => WordTokenizer.Load(d.File("d.json"))).Message);
    }
}

public sealed class WordTokenizerAsITokenizerTests
{
    private static readonly WordTokenizer Words = WordTokenizer.Build(["Is there a red circle?", "yes"]);

    [Fact]
    public void As_an_ITokenizer_it_encodes_the_same_and_keeps_special_tokens_on_decode()
    {
        ITokenizer tok = Words;
        Assert.Equal(Words.Encode("<image> is there a red circle?"), tok.Encode("<image> is there a red circle?"));
        Assert.Equal("<s> <image> yes </s>", tok.Decode([1, 4, Words.Encode("yes")[0], 2]));
        Assert.Equal("yes", Words.Decode([1, 4, Words.Encode("yes")[0], 2])); // Shapes' own decode unchanged
        Assert.Equal((1, 2, 0), (tok.BosId, tok.EosId, tok.PadId));
        Assert.Equal(4, tok.TokenToId("<image>"));
        Assert.Null(tok.TokenToId("green"));
        Assert.Equal(Words.VocabSize, tok.VocabSize);
        Assert.Equal(Words.Hash, tok.Hash);
    }
}
