using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class ShapesCorpusTests(ShapesDatasetFixture data) : IClassFixture<ShapesDatasetFixture>
{
    [Fact]
    public void A_tokenizer_from_the_train_split_covers_the_closed_world()
    {
        var tok = WordTokenizer.Build(ShapesCorpus.FromSplit(data.Dir, "train"));
        foreach (var w in new[] { "what", "colour", "circle", "red", "purple", "yes", "no", "describe", "one", "small", "large", ",", ".", "?" })
            Assert.NotEqual(tok.UnkId, Assert.Single(tok.Encode(w)));
        Assert.DoesNotContain("<image>", tok.Tokens.Skip(7));
        foreach (var s in Data.ShapesDataset.ReadSplit(data.Dir, "train"))
        {
            Assert.Equal(s.Question, tok.Decode(tok.Encode(s.Question)));
            Assert.Equal(s.Answer, tok.Decode(tok.Encode(s.Answer)));
        }
    }
}
