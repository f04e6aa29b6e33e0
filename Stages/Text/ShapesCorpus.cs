using Distill.Stages.Data;

namespace Distill.Stages.Text;

/// <summary>The texts a tokenizer is built from: every question and answer of a Shapes split.</summary>
public static class ShapesCorpus
{
    public static IEnumerable<string> Texts(IEnumerable<QuestionSample> samples) =>
        samples.SelectMany(s => new[] { s.Question, s.Answer });

    /// <summary>Questions and answers of <paramref name="split"/> (normally "train": the tokenizer must not peek at
    /// the test split; a word seen only there maps to &lt;unk&gt;).</summary>
    public static IEnumerable<string> FromSplit(string datasetDir, string split) => Texts(ShapesDataset.ReadSplit(datasetDir, split));
}
