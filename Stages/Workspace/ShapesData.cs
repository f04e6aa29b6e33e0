using System.Collections.Concurrent;
using Distill.Models;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Scoring;
using Distill.Stages.Text;

namespace Distill.Stages.Workspace;

/// <summary>The built-in Shapes benchmark as written in <see cref="PreparedData.DatasetDir"/>, with its word
/// tokenizer: rows encoded once on first use (the scenes are small), questions judged by the tokenizer's
/// normalisation, captions and hallucinations against the written scenes.</summary>
public sealed class ShapesData : PreparedData
{
    private readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<QuestionSample>>> _samples = new();
    private readonly ConcurrentDictionary<string, Lazy<IReadOnlyList<SampleRow>>> _rows = new();
    private readonly Lazy<IReadOnlyDictionary<string, ShapesScene>> _scenes;

    public ShapesData(string datasetDir, WordTokenizer tokenizer, int imageSize, int imageTokens)
        : base(datasetDir, tokenizer, ImageFormat.Shapes(imageSize), imageTokens, tokenizer.ImageId, tokenizer.PadId,
            new GenerationStop([tokenizer.EosId]))
    {
        Words = tokenizer;
        Answers = AnswerMatch.Words(tokenizer);
        _scenes = new(() => ShapesVocabulary.Splits
            .SelectMany(split => File.Exists(Path.Combine(datasetDir, ShapesGenerator.ScenesFile(split))) ? ShapesDataset.ReadScenes(datasetDir, split) : [])
            .ToDictionary(s => s.Image, StringComparer.Ordinal));
    }

    /// <summary>The word tokenizer (Shapes' chat template needs its role ids).</summary>
    public WordTokenizer Words { get; }

    public override AnswerMatch Answers { get; }

    protected override IReadOnlyList<QuestionSample> SplitSamples(string split) =>
        _samples.GetOrAdd(split, s => new Lazy<IReadOnlyList<QuestionSample>>(() => ShapesDataset.ReadSplit(DatasetDir, s))).Value;

    /// <summary>The split's rows; the questions of one scene share one image array (decoded once).</summary>
    protected override IReadOnlyList<SampleRow> SplitRows(string split) =>
        _rows.GetOrAdd(split, s => new Lazy<IReadOnlyList<SampleRow>>(() =>
        {
            var images = new Dictionary<string, byte[]>(StringComparer.Ordinal);
            byte[] Image(QuestionSample sample)
            {
                if (!images.TryGetValue(sample.Image, out var rgb))
                    images[sample.Image] = rgb = ShapesDataset.LoadRgb(DatasetDir, sample, ImageFormat.Size);
                return rgb;
            }
            return Samples(s).Select(x => SampleEncoder.Encode(x, Words, ImageTokens, Image)).ToList();
        })).Value;

    public override int[] EncodePrompt(string question) => ChatTemplate.EncodePrompt(Words, question, ImageTokens);

    public override bool HasExactAnswer(QuestionSample sample) => sample.Task != ShapesVocabulary.Caption && !string.IsNullOrEmpty(sample.Answer);

    public override CaptionJudgement JudgeCaption(QuestionSample sample, string caption) => ChairMetrics.Judge(caption, SceneOf(sample).Objects);

    public override IReadOnlySet<ObjectName>? ObjectsOf(QuestionSample sample) =>
        _scenes.Value.TryGetValue(sample.Image, out var scene) ? ObjectMentions.InScene(scene) : null;

    public override byte[] LoadImage(string path, string where) => ShapesDataset.LoadRgb(path, ImageFormat.Size, where);

    public override void SaveProcessingFiles(string directory) => ShapesProcessingFiles.Save(Words, ImageFormat, directory);

    private ShapesScene SceneOf(QuestionSample sample) =>
        _scenes.Value.TryGetValue(sample.Image, out var scene)
            ? scene
            : throw new InvalidDataException($"{DatasetDir}: no scene for image '{sample.Image}' of caption sample '{sample.Id}'");
}
