using Distill.Models;
using Distill.Stages.Arrow;
using Distill.Stages.Data;
using Distill.Stages.Scoring;
using Distill.Stages.Text;

namespace Distill.Stages.Workspace;

/// <summary>What every stage stands on, whatever the dataset: the splits (<c>train</c>, <c>val</c> held out,
/// <c>test</c> for evaluation) as question samples and as their <c>samples/v1</c> rows (image packed in
/// <see cref="ImageFormat"/>, conversation through the chat template), the tokenizer and its special ids, how a
/// prompt is encoded, how answers and captions are judged. <see cref="ShapesData"/> is the built-in benchmark;
/// <see cref="LlavaData"/> a user's LLaVA-format dataset with a Hugging Face tokenizer. Thread-safe.</summary>
public abstract class PreparedData
{
    protected PreparedData(string datasetDir, ITokenizer tokenizer, ImageFormat imageFormat, int imageTokens,
        int imageTokenId, int padId, GenerationStop stop)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(imageTokens);
        DatasetDir = datasetDir;
        Tokenizer = tokenizer;
        ImageFormat = imageFormat;
        ImageTokens = imageTokens;
        ImageTokenId = imageTokenId;
        PadId = padId;
        Stop = stop;
    }

    /// <summary>Where the dataset is (the Shapes dataset directory, or the folder of a LLaVA data file): named in errors.</summary>
    public string DatasetDir { get; }

    public ITokenizer Tokenizer { get; }

    /// <summary>The images of every row: size, rescale and normalisation the vision tower expects.</summary>
    public ImageFormat ImageFormat { get; }

    /// <summary>Image tokens per prompt: the tower's feature rows, each an <see cref="ImageTokenId"/> in the rows' ids.</summary>
    public int ImageTokens { get; }

    public int ImageTokenId { get; }

    /// <summary>The id that pads a batch's shorter rows (masked out, so any id would do; the tokenizer's when it has one).</summary>
    public int PadId { get; }

    /// <summary>How generation ends: the end-of-sequence ids (the model's <c>generation_config.json</c> may list
    /// several) and the default budget of new tokens.</summary>
    public GenerationStop Stop { get; }

    /// <summary>The first end-of-sequence id: the one appended to a response.</summary>
    public int EosId => Stop.EosIds[0];

    /// <summary>The students' labelled share of <c>train</c>: the samples of its first <see cref="LabelledImages"/>
    /// images (the teacher learns on all of <c>train</c>).</summary>
    public const string LabelledSplit = "labelled";

    /// <summary>What the distillation stages train on: every <c>train</c> sample in order, the labelled ones with their
    /// responses, the others (the unlabelled pool) as prompts only, which the teacher answers (LLAVADI's
    /// teacher-generated data).</summary>
    public const string DistillSplit = "distill";

    /// <summary>How many of the training images the students see labelled (<c>distill.data.labelled-images</c>); null =
    /// all of them, so that <see cref="LabelledSplit"/> and <see cref="DistillSplit"/> are <c>train</c> itself.</summary>
    public int? LabelledImages
    {
        get => _labelledImages;
        init
        {
            if (value is < 1) throw new ArgumentOutOfRangeException(nameof(LabelledImages), value, "at least one labelled image, or null for all");
            _labelledImages = value;
        }
    }

    private readonly int? _labelledImages;
    private bool[]? _labelled;

    /// <summary>The split's question samples (its conversations' first exchange); <see cref="Rows"/> is aligned with it.
    /// Besides the dataset's <c>train</c>, <c>val</c> and <c>test</c>: <see cref="LabelledSplit"/> and
    /// <see cref="DistillSplit"/>.</summary>
    public IReadOnlyList<QuestionSample> Samples(string split) => split switch
    {
        LabelledSplit => LabelledOf(SplitSamples("train")),
        DistillSplit => SplitSamples("train"),
        _ => SplitSamples(split),
    };

    /// <summary>The split's <c>samples/v1</c> rows, aligned with <see cref="Samples"/>. A pool row of
    /// <see cref="DistillSplit"/> is its prompt alone (<c>labels_mask</c> all false, no reference answer).</summary>
    public IReadOnlyList<SampleRow> Rows(string split) => split switch
    {
        LabelledSplit => LabelledOf(SplitRows("train")),
        DistillSplit when LabelledImages is null => SplitRows("train"),
        DistillSplit => new ProjectedRows(SplitRows("train"), (row, i) => Labelled[i] ? row : row.PromptOnly()),
        _ => SplitRows(split),
    };

    /// <summary>Training samples the students see labelled, and how many there are in all.</summary>
    public (int Labelled, int Train) LabelledCounts => (Labelled.Count(l => l), Labelled.Length);

    /// <summary>The dataset's own splits: <c>train</c>, <c>val</c>, <c>test</c>.</summary>
    protected abstract IReadOnlyList<QuestionSample> SplitSamples(string split);

    /// <summary>The rows of <see cref="SplitSamples"/>, aligned with them.</summary>
    protected abstract IReadOnlyList<SampleRow> SplitRows(string split);

    /// <summary>Per training sample: whether its image is one of the first <see cref="LabelledImages"/> distinct images.</summary>
    private bool[] Labelled => _labelled ??= LabelledFlags();

    private bool[] LabelledFlags()
    {
        var train = SplitSamples("train");
        if (LabelledImages is not { } n) return Enumerable.Repeat(true, train.Count).ToArray();
        var images = new HashSet<string>(StringComparer.Ordinal);
        var flags = new bool[train.Count];
        for (int i = 0; i < train.Count; i++)
        {
            if (images.Count < n) images.Add(train[i].Image);
            flags[i] = images.Contains(train[i].Image);
        }
        if (images.Count < n)
            throw new InvalidDataException($"distill.data.labelled-images = {n}, but the training split of {DatasetDir} has {images.Count} images");
        return flags;
    }

    private IReadOnlyList<T> LabelledOf<T>(IReadOnlyList<T> train)
    {
        if (LabelledImages is null) return train;
        var labelled = Labelled;
        return Enumerable.Range(0, train.Count).Where(i => labelled[i]).Select(i => train[i]).ToList();
    }

    /// <summary>The prompt of a question for generation (the image tokens, the question, the assistant's header).</summary>
    public abstract int[] EncodePrompt(string question);

    /// <summary>How a generated answer is compared with its reference.</summary>
    public abstract AnswerMatch Answers { get; }

    /// <summary>Whether <paramref name="sample"/>'s reference answer can be matched exactly (a short answer), so that
    /// sampled answers can be judged against it; otherwise the teacher judges them.</summary>
    public abstract bool HasExactAnswer(QuestionSample sample);

    /// <summary>A generated caption of a <c>caption</c> sample judged against the image's true objects (CHAIR).</summary>
    public abstract CaptionJudgement JudgeCaption(QuestionSample sample, string caption);

    /// <summary>The objects of a training or held-out sample's image as the Shapes captions name them, for
    /// hallucination pairs; null when the dataset does not know them.</summary>
    public abstract IReadOnlySet<ObjectName>? ObjectsOf(QuestionSample sample);

    /// <summary>An image file as a row's packed bytes in <see cref="ImageFormat"/>; <paramref name="where"/> names the
    /// file's user in errors.</summary>
    public abstract byte[] LoadImage(string path, string where);

    /// <summary>Writes what a model directory needs besides its weights and config to process inputs as this run
    /// does: the tokenizer's files (<c>tokenizer.json</c> and its configuration) and <c>preprocessor_config.json</c>.</summary>
    public abstract void SaveProcessingFiles(string directory);

    /// <summary>The tokenizer's <c>bos</c> id for generation_config.json, or null.</summary>
    public int? BosId => Tokenizer.BosId;
}

/// <summary>How generation ends: any of <see cref="EosIds"/> (the first is appended to responses), or after
/// <see cref="MaxNewTokens"/> new tokens when the model's configuration gives a budget (else the run's).</summary>
public sealed record GenerationStop(IReadOnlyList<int> EosIds, int? MaxNewTokens = null)
{
    public IReadOnlyList<int> MoreEosIds => EosIds.Skip(1).ToList();
}
