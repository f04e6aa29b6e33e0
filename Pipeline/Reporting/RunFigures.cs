using System.Globalization;
using System.Text.Json;
using Distill.Models.IO;
using Distill.Stages.Evaluation;

namespace Distill.Pipeline.Reporting;

/// <summary>A run's outcome as flat figures (<c>model.metric</c> -> value), the form a study averages over seeds and
/// <see cref="Targets"/> checks: per evaluated model its accuracy, size, POPE F1 per setting, CHAIR, speed and decoder
/// FLOPs; the MoD stage's layer counts; the run's wall time and whether the teacher came from the store. Written to
/// <c>&lt;run&gt;/run-figures.json</c> beside the report.</summary>
public static class RunFigures
{
    public const string File = "run-figures.json";

    public const string WallSeconds = "run.wall_s";
    public const string TeacherFromStore = "run.teacher_from_store";
    public const string ModLayers = "mod.layers";
    public const string ModLayersConverted = "mod.layers_converted";

    /// <summary>Chance level of the overall accuracy (per-family chance weighted by question counts).</summary>
    public const string OverallChance = "chance.overall";

    public static string Overall(string model) => model + ".overall";
    public static string Parameters(string model) => model + ".params";
    public static string Activated(string model) => model + ".activated_params";
    public static string ChairI(string model) => model + ".chair_i";
    public static string PopeF1(string model, string setting) => $"{model}.pope_{setting}_f1";
    public static string TokensPerSecond(string model) => model + ".tokens_per_s_b1";
    public static string PrefillMs(string model) => model + ".prefill_ms_b1";
    public static string BatchPrefillMs(string model) => model + ".prefill_ms_batch";
    public static string DecoderFlops(string model) => model + ".decoder_flops";

    private static readonly JsonSerializerOptions Json = new() { WriteIndented = true };

    public static IReadOnlyDictionary<string, double> Of(IReadOnlyList<EvaluationResult> results, IReadOnlyList<StageSummary> stages, TimeSpan wall)
    {
        var f = new SortedDictionary<string, double>(StringComparer.Ordinal)
        {
            [WallSeconds] = wall.TotalSeconds,
            [TeacherFromStore] = stages.Any(s => s.Stage == "teacher" && s.Figures.ContainsKey("reused_from_store")) ? 1 : 0,
        };
        if (results.Count > 0) f[OverallChance] = ReportWriter.OverallChance(results);
        foreach (var r in results)
        {
            f[Overall(r.Model)] = r.Overall;
            f[Parameters(r.Model)] = r.Parameters;
            if (r.ActivatedParameters > 0) f[Activated(r.Model)] = r.ActivatedParameters;
            if (r.DecoderFlopsPerSample > 0) f[DecoderFlops(r.Model)] = r.DecoderFlopsPerSample;
            foreach (var family in r.Families) f[$"{r.Model}.{family.Family}"] = family.Accuracy;
            foreach (var p in r.Pope) f[PopeF1(r.Model, p.Setting)] = p.F1;
            if (r.Chair is { } chair)
            {
                f[ChairI(r.Model)] = chair.ChairI;
                f[r.Model + ".chair_s"] = chair.ChairS;
            }
            if (r.Speed is { } s)
            {
                f[TokensPerSecond(r.Model)] = s.TokensPerSecond;
                f[r.Model + ".tokens_per_s_batch"] = s.BatchTokensPerSecond;
                f[PrefillMs(r.Model)] = s.PrefillMs;
                f[BatchPrefillMs(r.Model)] = s.BatchPrefillMs;
            }
        }
        if (stages.LastOrDefault(s => s.Stage == "mod" && s.Figures.ContainsKey("arank.layer0")) is { } mod)
        {
            int layers = 0;
            while (mod.Figures.ContainsKey($"arank.layer{layers}")) layers++;
            f[ModLayers] = layers;
            f[ModLayersConverted] = Enumerable.Range(0, layers).Count(i => mod.Figures.TryGetValue($"converted.layer{i}", out var c) && c == 1);
        }
        return f;
    }

    public static void Write(string path, IReadOnlyDictionary<string, double> figures) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(figures.Where(kv => double.IsFinite(kv.Value)).ToDictionary(), Json));

    /// <summary>Reads a <see cref="File"/>; the error names the file.</summary>
    public static IReadOnlyDictionary<string, double> Read(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<Dictionary<string, double>>(System.IO.File.ReadAllText(path))
                ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a figures file ({e.Message})", e);
        }
    }

    public static string Format(double v) => v.ToString("0.####", CultureInfo.InvariantCulture);
}
