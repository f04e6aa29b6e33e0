using System.Text.RegularExpressions;
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
        "mimic" or "mod" => TeacherV1.SchemaName,
        "preference" => "preference/v1",
        _ => null,
    };

    /// <summary>Hash of everything that may shape a stage's teacher batches: every setting (walked by name, see
    /// <see cref="TeacherSideSettings"/>) except those only the student, the run's place or the flow's parallelism
    /// decide. Conservative on purpose: a setting it does not know (a new stage's) counts, so a stale cache is never
    /// reused; the price is a recomputation when such a setting changes.</summary>
    public static string ConfigHash(string stage, DistillSettings settings) =>
        Fingerprint.Of("distill-cache/v1", stage, SchemaOf(stage), TeacherSideSettings(settings));

    /// <summary>Settings that never change a teacher batch, by property path: where the run lives, which stages run,
    /// where pretrained teachers are kept (the fingerprint names the teacher),
    /// threads and devices, the student's sizes, the mimic/sft optimiser, schedule and loss, the preference loss and
    /// optimiser (not its batch size: mining samples in batches of it), evaluation, loaders /
    /// workers / credits, transport, and the cache settings themselves. (Not eval's max-new-tokens: teacher-generated
    /// responses are as long as it allows.)</summary>
    private static readonly Regex StudentOnly = new(
        @"^(RunDir|Stages|TorchThreads|Device|Data\.Dir|Teacher\.Store|Model\.Student\w*(\..*)?|" +
        @"Mimic\.(\w*Epochs|BatchSize|LearningRate|WeightDecay|WarmupSteps|KdWeight|CeWeight|Loss|JsdBeta|Temperature|AuxWeight)|" +
        @"Preference\.(Loss|Beta|SftWeight|Epochs|LearningRate|WeightDecay|WarmupSteps)|" +
        @"Eval\.(BatchSize|MaxPerFamily)|Parallelism\.(Loaders|TeacherWorkers|CreditWindow)|Transport(\..*)?|Cache(\..*)?)$",
        RegexOptions.CultureInvariant);

    /// <summary>"Path=value" lines of every setting that may shape teacher batches (<see cref="SettingsLines"/>).</summary>
    public static string TeacherSideSettings(DistillSettings settings) => SettingsLines.Of(settings, StudentOnly);
}
