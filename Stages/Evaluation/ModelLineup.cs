using Distill.Models.Checkpoints;

namespace Distill.Stages.Evaluation;

/// <summary>A model the eval stage scores: its readable name and checkpoint directory.</summary>
public sealed record EvaluatedModel(string Name, string Checkpoint);

/// <summary>The models of a run in evaluation order: the teacher, then every student checkpoint under
/// <c>&lt;run&gt;/checkpoints</c> that exists: <c>sft</c> (SFT-only baseline), <c>student-dense</c>, <c>student-moe</c>, <c>student-pref</c>,
/// <c>student-mod</c>. A checkpoint exists when it has both model.safetensors and config.json.</summary>
public static class ModelLineup
{
    /// <summary>Checkpoint directory name -> readable model name, in evaluation order (after the teacher).</summary>
    public static readonly IReadOnlyList<(string Directory, string Name)> Students =
    [
        ("sft", "sft"),
        ("student-dense", "dense"),
        ("student-moe", "moe"),
        ("student-pref", "preference"),
        ("student-mod", "mod"),
    ];

    /// <summary>The distilled students a later stage continues from, newest first (DESIGN: student-mod >
    /// student-pref > student-moe > student-dense).</summary>
    public static readonly IReadOnlyList<string> FinalPreference = ["student-mod", "student-pref", "student-moe", "student-dense"];

    public static IReadOnlyList<EvaluatedModel> Existing(string teacherDir, string checkpointsDir)
    {
        var models = new List<EvaluatedModel> { new("teacher", teacherDir) };
        foreach (var (dir, name) in Students)
        {
            var path = Path.Combine(checkpointsDir, dir);
            if (Exists(path)) models.Add(new EvaluatedModel(name, path));
        }
        return models;
    }

    /// <summary>The newest distilled student of <see cref="FinalPreference"/> that exists, or null.</summary>
    public static EvaluatedModel? FinalStudent(string checkpointsDir)
    {
        foreach (var dir in FinalPreference)
        {
            var path = Path.Combine(checkpointsDir, dir);
            if (Exists(path)) return new EvaluatedModel(Students.First(s => s.Directory == dir).Name, path);
        }
        return null;
    }

    public static bool Exists(string checkpointDir) =>
        File.Exists(Path.Combine(checkpointDir, Checkpoint.WeightsFile)) && File.Exists(Path.Combine(checkpointDir, Checkpoint.ConfigFile));
}
