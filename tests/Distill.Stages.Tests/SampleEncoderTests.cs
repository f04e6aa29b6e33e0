using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Text;
using Xunit;

namespace Distill.Stages.Tests;

public sealed class SampleEncoderTests(ShapesDatasetFixture data) : IClassFixture<ShapesDatasetFixture>
{
    [Fact]
    public void Encode_loads_the_image_and_applies_the_chat_template()
    {
        var tok = WordTokenizer.Build(ShapesCorpus.FromSplit(data.Dir, "train"));
        var sample = ShapesDataset.ReadSplit(data.Dir, "val").First(s => s.Task == "colour" || s.Task == "shape");
        var row = SampleEncoder.Encode(sample, tok, imageTokens: 4, s => ShapesDataset.LoadRgb(data.Dir, s, 16));

        Assert.Equal(sample.Id, row.SampleId);
        Assert.Equal(sample.Task, row.Task);
        Assert.Equal(sample.Answer, row.Answer);
        Assert.Equal(ShapesDataset.LoadRgb(data.Dir, sample, 16), row.Image);
        Assert.Equal(16 * 16 * 3, row.Image.Length);
        var expected = ChatTemplate.Encode(tok, sample.Question, sample.Answer, 4);
        Assert.Equal(expected.InputIds, row.InputIds);
        Assert.Equal(expected.LabelsMask, row.LabelsMask);
        Assert.Equal([1, 5, 4, 4, 4, 4], row.InputIds[..6]);
        // The masked tokens decode to the answer; the sequence round-trips through samples/v1.
        Assert.Equal(sample.Answer, tok.Decode(row.InputIds.Where((_, i) => row.LabelsMask[i])));
        Assert.Equal(row.InputIds, SamplesV1.Read(SamplesV1.Write([row], 16 * 16 * 3))[0].InputIds);
    }

    [Fact]
    public void A_sample_without_the_image_prefix_is_named()
    {
        var tok = WordTokenizer.Build(["red"]);
        var sample = new QuestionSample("odd_1", "images/val_00000.png", "colour", "q", "red", [new Turn("human", "q"), new Turn("gpt", "red")]);
        Assert.Contains("odd_1", Assert.Throws<InvalidDataException>(() => SampleEncoder.Encode(sample, tok, 2, s => ShapesDataset.LoadRgb(data.Dir, s, 32))).Message);
    }
}
