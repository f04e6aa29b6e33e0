using Distill.Stages.Scoring;
using Distill.Models.Generation;
using System.Text.Json;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Models.Config;
using Distill.Stages.Data;
using Distill.Stages.Flow;
using Distill.Stages.Text;
using Distill.Stages.Workspace;
using static TorchSharp.torch;

namespace Distill.Stages.Evaluation;

/// <summary>Stage <c>eval</c>: greedy answers on a split, exact-match accuracy per question family next to the
/// family's chance level, POPE scores of the existence probes per setting and CHAIR of the captions against the
/// scenes. Samples are batched by family so that short-answer batches stop early.
/// <para>Token budget: a family gets <c>maxNewTokens</c>, or more when one of its reference answers is longer (plus
/// eos), so a long caption is never cut short by a budget sized for one-word answers.</para></summary>
public sealed class VqaEvaluator
{
    private readonly PreparedData _data;
    private readonly int _batchSize;
    private readonly int _maxNewTokens;
    private readonly int _maxPerFamily;
    private readonly Func<string, double> _chance;

    public VqaEvaluator(PreparedData data, int batchSize, int maxNewTokens, int maxPerFamily, Func<string, double> chanceLevel)
    {
        _data = data;
        _batchSize = batchSize;
        _maxNewTokens = maxNewTokens;
        _maxPerFamily = maxPerFamily;
        _chance = chanceLevel;
    }

    public (EvaluationResult Result, IReadOnlyList<Prediction> Predictions) Evaluate(
        VisionLanguageModel model, string modelName, string split, IStageProgress progress, CancellationToken cancellation)
    {
        model.eval();
        var samples = _data.Samples(split);
        var rows = _data.Rows(split);
        var byFamily = samples.Select((s, i) => (Sample: s, Index: i))
            .GroupBy(x => x.Sample.Task)
            .OrderBy(g => g.Key, StringComparer.Ordinal)
            .Select(g => (Family: g.Key, Items: _maxPerFamily > 0 ? g.Take(_maxPerFamily).ToList() : g.ToList()))
            .ToList();
        int total = byFamily.Sum(f => f.Items.Count);
        var greedy = new GenerationOptions(_maxNewTokens, _data.EosId, _data.PadId) { MoreEosIds = _data.Stop.MoreEosIds };
        var predictions = new List<Prediction>(total);
        var scores = new List<FamilyScore>();
        var tokenizer = _data.Tokenizer;
        var captions = new List<CaptionJudgement>();
        int done = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        foreach (var (family, items) in byFamily)
        {
            int correct = 0;
            int budget = Math.Max(_maxNewTokens, items.Max(x => tokenizer.Encode(x.Sample.Answer).Length + 1));
            foreach (var chunk in items.Chunk(_batchSize))
            {
                cancellation.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                var pixels = ImageTensors.FromRgb(chunk.Select(x => rows[x.Index].Image).ToList(), _data.ImageFormat);
                var prompts = chunk.Select(x => _data.EncodePrompt(x.Sample.Question)).ToList();
                IReadOnlyList<int[]> outputs;
                using (no_grad()) outputs = model.Generate(pixels, prompts, greedy with { MaxNewTokens = budget }).Tokens;
                for (int i = 0; i < chunk.Length; i++)
                {
                    var sample = chunk[i].Sample;
                    string generated = tokenizer.Decode(outputs[i]);
                    bool ok = _data.Answers.IsExact(generated, sample.Answer);
                    if (ok) correct++;
                    var prediction = new Prediction(sample.Id, family, sample.Question, sample.Answer, generated, ok) { Probe = sample.Probe };
                    if (family == ShapesVocabulary.Caption)
                    {
                        var judged = _data.JudgeCaption(sample, generated);
                        captions.Add(judged);
                        prediction = prediction with { Hallucinated = judged.Hallucinated.Select(m => m.ToString()).ToList() };
                    }
                    predictions.Add(prediction);
                }
                done += chunk.Length;
                progress.Report(new StageProgress("eval", modelName, done, total, done / clock.Elapsed.TotalSeconds, double.NaN));
            }
            scores.Add(new FamilyScore(family, correct, items.Count, _chance(family)));
        }
        var result = new EvaluationResult(modelName, model.ParameterCount(), scores)
        {
            Pope = PopeMetrics.Compute(predictions.Where(p => p.Task == ShapesVocabulary.Existence)),
            Chair = captions.Count == 0 ? null : ChairMetrics.Compute(captions),
        };
        return (Accounted(result, model.Config, split, null), predictions);
    }

    /// <summary>Adds activated parameters and forward FLOPs (per sample and per token) for the split's mean text
    /// length; <paramref name="modKeepRatio"/> is the share of image tokens the MoD layers process (null = the
    /// config's 1 - skip ratio; ignored without MoD layers).</summary>
    public EvaluationResult Accounted(EvaluationResult result, VlmConfig config, string split, double? modKeepRatio)
    {
        var rows = _data.Rows(split);
        int textTokens = rows.Count == 0 ? 0 : (int)Math.Round(rows.Average(r => r.InputIds.Length - _data.ImageTokens));
        var flops = FlopAccounting.Forward(config, SequenceShape.ForImage(config, textTokens, modKeepRatio));
        return result with
        {
            ActivatedParameters = ParameterAccounting.Activated(config),
            FlopsPerSample = flops.Total,
            DecoderFlopsPerSample = flops.Decoder,
            FlopsPerToken = flops.PerToken,
        };
    }

    /// <summary>Writes predictions as JSON lines (one object per sample) for inspection.</summary>
    public static void WritePredictions(string path, IEnumerable<Prediction> predictions)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using var writer = new StreamWriter(path);
        foreach (var p in predictions) writer.WriteLine(JsonSerializer.Serialize(p));
    }
}
