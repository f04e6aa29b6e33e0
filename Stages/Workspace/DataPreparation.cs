using Distill.Stages.Data;
using Distill.Stages.Text;

namespace Distill.Stages.Workspace;

/// <summary>What every stage stands on: the Shapes dataset (written, or reused when its fingerprint matches) and
/// the tokenizer (built from the training split, or taken from an existing teacher checkpoint), saved with the run.</summary>
public static class DataPreparation
{
    /// <summary>The prepared data and its fingerprint (the dataset's content and the options that made it).</summary>
    public sealed record Result(PreparedData Data, string Fingerprint);

    /// <param name="existingTokenizer">tokenizer.json of a given teacher checkpoint, or null to build one.</param>
    /// <param name="labelledImages">scenes the students see labelled (<see cref="PreparedData.LabelledImages"/>); null = all.</param>
    public static Result Prepare(ShapesOptions options, string datasetDir, string? existingTokenizer, string runTokenizerPath, int imageTokens,
        int? labelledImages = null)
    {
        var manifest = ShapesGenerator.WriteOrReuse(options.Validate(), datasetDir);
        WordTokenizer tokenizer;
        if (existingTokenizer is not null)
        {
            if (!File.Exists(existingTokenizer))
                throw new FileNotFoundException($"the teacher checkpoint has no tokenizer: {existingTokenizer} is missing", existingTokenizer);
            tokenizer = WordTokenizer.Load(existingTokenizer);
        }
        else
        {
            tokenizer = WordTokenizer.Build(ShapesCorpus.FromSplit(datasetDir, "train"));
        }
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(runTokenizerPath))!);
        tokenizer.Save(runTokenizerPath);
        return new Result(new ShapesData(datasetDir, tokenizer, options.ImageSize, imageTokens) { LabelledImages = labelledImages }, manifest.Fingerprint);
    }
}
