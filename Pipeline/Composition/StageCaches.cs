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
                        () => KeyOf(distill.Name, settings, teacherFingerprint(), tokenizerHash, dataFingerprint)),
                }
                : stage)
            .ToList();
    }

    public static CacheKey KeyOf(string stage, DistillSettings settings, string teacherFingerprint, string tokenizerHash,
        string dataFingerprint) =>
        new(teacherFingerprint, tokenizerHash, SchemaOf(stage), dataFingerprint, ConfigHash(stage, settings));

    /// <summary>The batch contract a stage's teachers emit; null = whatever the first part declares (the cache then
    /// holds every later part to it).</summary>
    public static string? SchemaOf(string stage) => stage switch
    {
        "mimic" or "mod" => TeacherV1.SchemaName,
        "preference" => "preference/v1",
        _ => null,
    };

    /// <summary>Hash of everything that may shape a stage's teacher batches: the whole configuration except what
    /// only the student, the run's place, or the flow's parallelism decide (student sizes, the mimic optimiser and
    /// loss weights, evaluation, loaders/workers/credits, devices, the cache settings themselves). Conservative on
    /// purpose: a section it does not know (a new stage's) counts, so a stale cache is never reused; the price is a
    /// recomputation when such a setting changes.</summary>
    public static string ConfigHash(string stage, DistillSettings settings)
    {
        var s = settings;
        var teacherSide = s with
        {
            RunDir = "",
            Stages = [],
            TorchThreads = 0,
            Device = default,
            Data = s.Data with { Dir = "", Families = [] }, // the data fingerprint covers the dataset
            Model = s.Model with { Student = new DecoderSettings(0, 0, 0, 0, 0) },
            Mimic = s.Mimic with { Epochs = 0, BatchSize = 0, LearningRate = 0, WeightDecay = 0, WarmupSteps = 0, KdWeight = 0, CeWeight = 0 },
            Eval = new EvalSettings(0, 0, 0),
            Parallelism = new ParallelismSettings(0, 0, 0, s.Parallelism.ShardSize),
            Transport = new TransportSettings(0),
            Cache = new CacheSettings("", CacheMode.Off, false),
        };
        return Fingerprint.Of("distill-cache/v1", stage, SchemaOf(stage), teacherSide);
    }
}
