using Distill.Models.Torch;
using System.Text.Json;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Stages.Flow;
using Distill.Stages.Workspace;

using static TorchSharp.torch;

namespace Distill.Stages.Evaluation;

/// <summary>Where and what the eval stage exports: the final student into <paramref name="Directory"/>.</summary>
public sealed record ExportPlan(EvaluatedModel Student, string Directory, PreparedData Data);

/// <summary>Stage <c>eval</c>: every named checkpoint on the test split (accuracy, POPE, CHAIR), its measured speed
/// when a <see cref="Speed"/> measurement is given, and FLOPs per token (MoD models: at the keep ratio measured
/// there); predictions per model as JSON lines and all results in <c>results.json</c>, one record per model (read
/// back by the report, also when the stage is skipped on resume). Then the final student is exported when an
/// <see cref="Export"/> is given.</summary>
public sealed class EvaluationStage
{
    public const string ResultsFile = "results.json";
    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    private readonly VqaEvaluator _evaluator;
    private readonly IReadOnlyList<(string Name, string Checkpoint)> _models;
    private readonly string _outputDir;
    private readonly string _split;
    private readonly Placement? _placement;

    public EvaluationStage(VqaEvaluator evaluator, IReadOnlyList<(string Name, string Checkpoint)> models, string outputDir, string split = "test", Placement? placement = null)
    {
        _evaluator = evaluator;
        _models = models;
        _outputDir = outputDir;
        _split = split;
        _placement = placement;
    }

    /// <summary>Speed measurement per model; null = none.</summary>
    public SpeedMeasurement? Speed { get; init; }

    /// <summary>The export after evaluation; null = none.</summary>
    public ExportPlan? Export { get; init; }

    public static string PredictionsFile(string model) => $"predictions-{model}.jsonl";

    public StageOutcome Run(IStageProgress progress, CancellationToken cancellation)
    {
        Directory.CreateDirectory(_outputDir);
        var results = new List<EvaluationResult>();
        var figures = new Dictionary<string, double> { ["models"] = _models.Count };
        foreach (var (name, checkpoint) in _models)
        {
            using var model = Checkpoint.Load(checkpoint, _placement);
            var (result, predictions) = _evaluator.Evaluate(model, name, _split, progress, cancellation);
            VqaEvaluator.WritePredictions(Path.Combine(_outputDir, PredictionsFile(name)), predictions);
            if (Speed is not null)
            {
                progress.Report(new StageProgress("eval", name + " speed", 0, 1, 0, double.NaN));
                var speed = Speed.Measure(model, _split, cancellation);
                result = _evaluator.Accounted(result, model.Config, _split, speed.ModKeepRatio) with { Speed = speed };
                figures[$"{name}_prefill_ms"] = speed.PrefillMs;
                figures[$"{name}_tokens_per_s"] = speed.TokensPerSecond;
                progress.Report(new StageProgress("eval", name + " speed", 1, 1, 0, double.NaN));
            }
            results.Add(result);
            figures[$"{name}_overall"] = result.Overall;
            foreach (var family in result.Families) figures[$"{name}_{family.Family}"] = family.Accuracy;
            foreach (var pope in result.Pope) figures[$"{name}_pope_{pope.Setting}_f1"] = pope.F1;
            if (result.Chair is { } chair)
            {
                figures[$"{name}_chair_i"] = chair.ChairI;
                figures[$"{name}_chair_s"] = chair.ChairS;
            }
        }
        File.WriteAllText(Path.Combine(_outputDir, ResultsFile), JsonSerializer.Serialize(results, Json));

        string? exported = null;
        if (Export is { } plan)
        {
            StudentExport.Write(plan.Student, plan.Directory, plan.Data);
            exported = plan.Directory;
            figures["exported_params"] = ParameterAccounting.Total(Checkpoint.ReadConfig(plan.Directory).Vlm!);
        }
        return new StageOutcome(exported, figures);
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
