using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Arrow;
using Distill.Stages.Cache;
using Distill.Stages.Flow;
using Distill.Stages.Training;

namespace Distill.Pipeline.Composition;

/// <summary>Gives every distillation stage its teacher-output cache (<c>distill.cache</c>), keyed by the stage's
/// name, so a stage added to the catalog is cached without more work.</summary>
public static class StageCaches
{
    /// <summary>The cache root: <c>distill.cache.dir</c>, or <c>&lt;run&gt;/cache</c> when empty.</summary>
    public static string RootOf(DistillSettings settings, string runDir) =>
        settings.Cache.Dir.Length > 0 ? Path.GetFullPath(settings.Cache.Dir, runDir) : Path.Combine(runDir, "cache");

    /// <summary>The stages with <see cref="DistillStage.Cache"/> set on each distillation stage (unchanged when the
    /// mode is off). <paramref name="teacherFingerprint"/> is called when a stage starts.</summary>
    public static IReadOnlyList<StageDefinition> Attach(IReadOnlyList<StageDefinition> stages, DistillSettings settings,
        RunPaths paths, Func<string> teacherFingerprint, string tokenizerHash, string dataFingerprint)
    {
        if (settings.Cache.Mode == CacheMode.Off) return stages;
        var root = RootOf(settings, paths.Root);
        return stages.Select(stage => stage is DistillStage distill
                ? distill with
                {
                    Cache = new StageCacheSpec(root, settings.Cache.Mode,
                        () => KeyOf(CacheStageOf(distill.Name, settings), settings, teacherFingerprint(), tokenizerHash, dataFingerprint))
                    {
                        Stage = CacheStageOf(distill.Name, settings),
                    },
                }
                : stage)
            .ToList();
    }

    /// <summary>Whose cached batches a stage uses: <c>mod</c> distils from exactly the batches <c>mimic</c>'s teacher
    /// produced (same shards, top-K, scope and teacher-generated responses), so it replays the mimic cache instead of
    /// running the teacher again.</summary>
    public static string CacheStageOf(string stage, DistillSettings settings) => stage == "mod" ? "mimic" : stage;

    public static CacheKey KeyOf(string stage, DistillSettings settings, string teacherFingerprint, string tokenizerHash,
        string dataFingerprint) =>
        new(teacherFingerprint, tokenizerHash, SchemaOf(stage), dataFingerprint, ConfigHash(stage, settings));

    /// <summary>The batch contract a stage's teachers emit; null = whatever the first part declares (the cache then
    /// holds every later part to it).</summary>
    public static string? SchemaOf(string stage) => stage switch
    {
        "mimic" or "mod" => TeacherV2.SchemaName,
        "preference" => "preference/v1",
        _ => null,
    };

    /// <summary>Hash of the settings that shape a stage's teacher batches (<see cref="TeacherSideKeys"/>), with the
    /// stage and its batch schema. The teacher itself (its checkpoint, architecture and pretraining) is named by the
    /// teacher fingerprint of the key, the data's content by the data fingerprint.</summary>
    public static string ConfigHash(string stage, DistillSettings settings) =>
        Fingerprint.Of("distill-cache/v2", stage, SchemaOf(stage), TeacherSideSettings(stage, settings));

    /// <summary>What every teacher batch depends on besides the teacher: the samples (the Shapes generation and its
    /// seed, a LLaVA dataset's reading options, the labelled share whose other rows the teacher answers), the dtype
    /// the teacher computes in and how the samples are cut into shards.</summary>
    private static readonly string[] SampleKeys =
        ["Seed", "DType", "Data.ImageSize", "Data.TrainScenes", "Data.ValScenes", "Data.TestScenes", "Data.QuestionsPerScene",
         "Data.MinObjects", "Data.MaxObjects", "Data.Families", "Data.ExistenceWeight", "Data.LabelledImages", "Data.Llava",
         "Parallelism.ShardSize"];

    /// <summary>The settings (property paths of <see cref="DistillSettings"/>, each with everything under it) that
    /// shape the teacher batches of <paramref name="stage"/>: for <c>mimic</c> and <c>mod</c> (<c>teacher/v2</c>) the
    /// samples, top-K, the distilled positions, whether and how long the teacher answers; for <c>preference</c> the
    /// samples and the pair mining (the pairs the teacher scores). A stage this list does not know gets every setting
    /// (a stale cache is never reused). Every other setting is in <see cref="StudentSideKeys"/>.</summary>
    public static IReadOnlyList<string> TeacherSideKeys(string stage) => stage switch
    {
        "mimic" or "mod" => [.. SampleKeys, "Teacher.TopK", "Teacher.ExactLogprobs", "Teacher.LogprobStepBits", "Mimic.Scope", "Mimic.TeacherGeneratedResponses", "Eval.MaxNewTokens"],
        "preference" => [.. SampleKeys, "Preference.Sources", "Preference.DatasetFile", "Preference.Prompts", "Preference.HeldOutPrompts",
            "Preference.SamplesPerPrompt", "Preference.Temperature", "Preference.TopP", "Preference.MaxNewTokens", "Preference.Optimiser.BatchSize"],
        _ => [""],
    };

    /// <summary>The settings that never change a teacher batch of a known stage: where the run lives and executes
    /// (stages, threads, device, parallelism, transport, cluster, cache, the teacher store), the teacher's
    /// architecture and pretraining (the teacher fingerprint names the teacher), the students (sizes, initialisation,
    /// every optimiser, schedule and loss), the mod stage and evaluation. Together with <see cref="TeacherSideKeys"/>
    /// of every stage they cover every setting (a test holds them to it), so a new setting is classified on purpose.</summary>
    public static readonly IReadOnlyList<string> StudentSideKeys =
    [
        "RunDir", "Stages", "TorchThreads", "Device", "Data.Dir", "Model", "Teacher.Checkpoint", "Teacher.Store", "Teacher.Epochs",
        "Teacher.Optimiser", "Teacher.Compression", "Mimic.ProjectorWarmupEpochs", "Mimic.D2dEpochs", "Mimic.D2sEpochs", "Mimic.Optimiser",
        "Mimic.KdWeight", "Mimic.CeWeight", "Mimic.Loss", "Mimic.JsdBeta", "Mimic.Temperature", "Mimic.AuxWeight", "Mod",
        "Eval.BatchSize", "Eval.MaxPerFamily", "Eval.SpeedPrompts", "Eval.SpeedRepeats", "Parallelism.Loaders",
        "Parallelism.TeacherWorkers", "Parallelism.CreditWindow", "Parallelism.ReplayWindow", "Transport", "Preference.Loss", "Preference.Beta",
        "Preference.SftWeight", "Preference.Epochs", "Preference.Optimiser.LearningRate", "Preference.Optimiser.WeightDecay",
        "Preference.Optimiser.WarmupSteps",
        "Cluster", "Cache",
    ];

    /// <summary>"Path=value" lines of the settings of <see cref="TeacherSideKeys"/> (<see cref="SettingsLines"/>).</summary>
    public static string TeacherSideSettings(string stage, DistillSettings settings) => SettingsLines.Select(settings, TeacherSideKeys(stage));
}
