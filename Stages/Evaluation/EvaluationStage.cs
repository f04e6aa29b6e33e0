using System.Text.Json;
using Distill.Models.Checkpoints;
using Distill.Stages.Flow;

using static TorchSharp.torch;

namespace Distill.Stages.Evaluation;

/// <summary>Stage <c>eval</c>: every named checkpoint on the test split; predictions per model as JSON lines and
/// all results in <c>results.json</c> (read back by the report, also when the stage is skipped on resume).</summary>
public sealed class EvaluationStage
{
    public const string ResultsFile = "results.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private readonly VqaEvaluator _evaluator;
    private readonly IReadOnlyList<(string Name, string Checkpoint)> _models;
    private readonly string _outputDir;
    private readonly string _split;
    private readonly Device? _device;

    public EvaluationStage(VqaEvaluator evaluator, IReadOnlyList<(string Name, string Checkpoint)> models, string outputDir, string split = "test", Device? device = null)
    {
        _evaluator = evaluator;
        _models = models;
        _outputDir = outputDir;
        _split = split;
        _device = device;
    }

    public StageOutcome Run(IStageProgress progress, CancellationToken cancellation)
    {
        Directory.CreateDirectory(_outputDir);
        var results = new List<EvaluationResult>();
        var figures = new Dictionary<string, double>();
        foreach (var (name, checkpoint) in _models)
        {
            using var model = Checkpoint.Load(checkpoint).OnDevice(_device);
            var (result, predictions) = _evaluator.Evaluate(model, name, _split, progress, cancellation);
            VqaEvaluator.WritePredictions(Path.Combine(_outputDir, $"predictions-{name}.jsonl"), predictions);
            results.Add(result);
            figures[$"{name}_overall"] = result.Overall;
            foreach (var family in result.Families) figures[$"{name}_{family.Family}"] = family.Accuracy;
        }
        File.WriteAllText(Path.Combine(_outputDir, ResultsFile), JsonSerializer.Serialize(results, Json));
        return new StageOutcome(null, figures);
    }

    /// <summary>Results written by an earlier run of the stage, or an empty list.</summary>
    public static IReadOnlyList<EvaluationResult> ReadResults(string outputDir)
    {
        string path = Path.Combine(outputDir, ResultsFile);
        if (!File.Exists(path)) return [];
        try
        {
            return JsonSerializer.Deserialize<List<EvaluationResult>>(File.ReadAllText(path)) ?? [];
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a valid evaluation results file: {e.Message}", e);
        }
    }
}
