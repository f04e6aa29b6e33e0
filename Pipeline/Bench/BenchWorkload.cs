using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Stages.Data;
using Distill.Stages.Text;

namespace Distill.Pipeline.Bench;

/// <summary>The sequences a model benchmark feeds: one image of <see cref="ImageTokens"/> patches in the chat
/// template, <see cref="PromptTextTokens"/> prompt text tokens (bos, user marker, question, assistant marker) and
/// <see cref="AnswerTokens"/> answer tokens (answer words and eos). The forward pass runs over the whole sample
/// (image + prompt + answer), the prefill over image + prompt, then <see cref="DecodeSteps"/> cached decode steps.</summary>
/// <param name="Batch">rows of the batched forward (prefill and decode use batch 1).</param>
/// <param name="VocabSize">the tokenizer's vocabulary (the LM head's width).</param>
/// <param name="Source">where the text lengths came from, for the notes.</param>
public sealed record BenchWorkload(
    int ImageTokens,
    int PromptTextTokens,
    int AnswerTokens,
    int Batch,
    int DecodeSteps,
    int VocabSize,
    int ImageTokenId,
    string Source)
{
    /// <summary>Text tokens of a whole sample (prompt + answer).</summary>
    public int TextTokens => PromptTextTokens + AnswerTokens;

    /// <summary>Tokens of a whole sample.</summary>
    public int Tokens => ImageTokens + TextTokens;

    /// <summary>Tokens of the prefill (image + prompt).</summary>
    public int PromptTokens => ImageTokens + PromptTextTokens;
}

/// <summary>Builds a <see cref="BenchWorkload"/> from the Shapes data the configuration describes, without writing
/// the dataset or rendering an image: the training split's scenes and questions are drawn in memory with the
/// generator's seeds, the tokenizer is built from them exactly as the pipeline builds it (so the vocabulary size is
/// the pipeline's), and the text lengths are the medians over the split's samples.</summary>
public static class ShapesWorkload
{
    /// <param name="batch">forward batch; null = <c>distill.eval.batch-size</c>.</param>
    /// <param name="decodeSteps">cached decode steps; null = <c>distill.eval.max-new-tokens</c>.</param>
    public static BenchWorkload Of(DistillSettings settings, int? batch = null, int? decodeSteps = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        var options = StageCatalog.ShapesOptionsOf(settings).Validate();
        var questions = TrainQuestions(options);
        var tokenizer = WordTokenizer.Build(questions.SelectMany(q => new[] { q.Question, q.Answer }));
        var imageTokens = ModelConfigs.ImageFeatures(settings);

        // Prompt text = bos, user marker, question words, assistant marker; answer = answer words + eos (ChatTemplate).
        var prompt = questions.Select(q => ChatTemplate.EncodePrompt(tokenizer, q.Question, imageTokens).Length - imageTokens);
        var answer = questions.Select(q => tokenizer.Encode(q.Answer).Length + 1);
        return new BenchWorkload(
            ImageTokens: imageTokens,
            PromptTextTokens: Median(prompt),
            AnswerTokens: Median(answer),
            Batch: batch ?? settings.Eval.BatchSize,
            DecodeSteps: decodeSteps ?? settings.Eval.MaxNewTokens,
            VocabSize: tokenizer.VocabSize,
            ImageTokenId: tokenizer.ImageId,
            Source: $"median prompt and answer lengths of the {questions.Count} training questions of the Shapes data " +
                    $"(seed {options.Seed}); vocabulary {tokenizer.VocabSize} tokens");
    }

    /// <summary>The training split's questions, drawn with the same random streams as <see cref="ShapesGenerator"/>
    /// (scenes first, then that scene's questions), so they are the questions the pipeline trains on.</summary>
    public static IReadOnlyList<ShapesQuestion> TrainQuestions(ShapesOptions options)
    {
        const string split = "train";
        var sceneRng = new DeterministicRandom(DeterministicRandom.Derive(options.Seed, split + "/scenes"));
        var sampler = new QuestionSampler(new DeterministicRandom(DeterministicRandom.Derive(options.Seed, split + "/questions")), options);
        var result = new List<ShapesQuestion>();
        for (var i = 0; i < options.ScenesOf(split); i++)
        {
            var id = ShapesGenerator.SceneId(split, i);
            result.AddRange(sampler.For(SceneSampler.Sample(sceneRng, options, id, $"images/{id}.png")));
        }
        if (result.Count == 0)
            throw new ArgumentException("the Shapes training split is empty (distill.data.train-scenes = 0): no text lengths to benchmark with.");
        return result;
    }

    /// <summary>Lower median of a non-empty sequence.</summary>
    internal static int Median(IEnumerable<int> values)
    {
        var sorted = values.Order().ToArray();
        return sorted[(sorted.Length - 1) / 2];
    }
}
