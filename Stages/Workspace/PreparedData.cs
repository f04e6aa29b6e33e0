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

    /// <summary>The split's question samples (its conversations' first exchange); <see cref="Rows"/> is aligned with it.</summary>
    public abstract IReadOnlyList<QuestionSample> Samples(string split);

    /// <summary>The split's <c>samples/v1</c> rows, aligned with <see cref="Samples"/>.</summary>
    public abstract IReadOnlyList<SampleRow> Rows(string split);

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
