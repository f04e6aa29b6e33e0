using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Cache;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Tests;

public class CacheConfigTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 7, 8, 9, 10, TimeSpan.Zero);

    [Fact]
    public void Cache_keys_bind_with_reuse_and_arrival_order_by_default()
    {
        var s = Cfg.Load("tiny").Settings;
        Assert.Equal(new CacheSettings("", CacheMode.Reuse, StrictOrder: false), s.Cache);
        var replay = Cfg.Load("tiny", null, "distill.cache.mode=replay", "distill.cache.strict-order=on", "distill.cache.dir=/tmp/c").Settings;
        Assert.Equal(new CacheSettings("/tmp/c", CacheMode.Replay, StrictOrder: true), replay.Cache);
    }

    [Fact]
    public void Bad_cache_values_name_the_key_and_the_allowed_values()
    {
        var mode = Cfg.Single(Cfg.Errors("tiny", null, "distill.cache.mode=sometimes"));
        Assert.Contains("distill.cache.mode", mode);
        Assert.Contains("'sometimes'", mode);
        Assert.Contains("off, reuse, write, replay", mode);
        var order = Cfg.Single(Cfg.Errors("tiny", null, "distill.cache.strict-order=maybe"));
        Assert.Contains("distill.cache.strict-order", order);
        Assert.Contains("true or false", order);
        Assert.Contains("did you mean distill.cache.mode?", Cfg.Single(Cfg.Errors("tiny", null, "distill.cache.mod=off")));
    }

    [Fact]
    public void A_relative_cache_directory_is_made_absolute_in_the_run_and_empty_means_the_run_cache()
    {
        using var t = new TempDir();
        var (config, paths) = RunDirectory.Create(Cfg.Load("tiny", null, "distill.run-dir=r", "distill.cache.dir=shared/cache"), Now, t.Path);
        Assert.Equal(Path.Combine(t.Path, "shared", "cache"), config.Settings.Cache.Dir);
        Assert.Contains($"dir = \"{Path.Combine(t.Path, "shared", "cache")}\"", File.ReadAllText(paths.ResolvedConfig));
        Assert.Equal(Path.Combine(t.Path, "shared", "cache"), StageCaches.RootOf(config.Settings, paths.Root));

        var (plain, plainPaths) = RunDirectory.Create(Cfg.Load("tiny", null, "distill.run-dir=p"), Now, t.Path);
        Assert.Equal(Path.Combine(plainPaths.Root, "cache"), StageCaches.RootOf(plain.Settings, plainPaths.Root));
    }

    [Fact]
    public void The_config_hash_ignores_student_only_settings_and_follows_teacher_side_ones()
    {
        var s = Cfg.Load("tiny").Settings;
        var hash = StageCaches.ConfigHash("mimic", s);
        Assert.Equal(16, hash.Length);
        Assert.Equal(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null,
            "distill.mimic.batch-size=7", "distill.mimic.learning-rate=0.1", "distill.model.student.layers=3",
            "distill.parallelism.teacher-workers=5", "distill.cache.mode=replay", "distill.eval.batch-size=3",
            "distill.run-dir=elsewhere", "distill.stages=[teacher, mimic]", "distill.teacher.store=/elsewhere").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.teacher.top-k=4").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.mimic.scope=all").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.parallelism.shard-size=8").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("preference", s)); // keyed by the stage's name

        Assert.Equal(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null,
            "distill.mod.skip-ratio=0.3", "distill.preference.prompts=5", "distill.teacher.epochs=9").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.mimic.teacher-generated-responses=on").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.eval.max-new-tokens=5").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.data.labelled-images=20").Settings));
        Assert.NotEqual(hash, StageCaches.ConfigHash("mimic", Cfg.Load("tiny", null, "distill.seed=3").Settings));

        var preference = StageCaches.ConfigHash("preference", s);
        Assert.Equal(preference, StageCaches.ConfigHash("preference", Cfg.Load("tiny", null,
            "distill.preference.beta=0.5", "distill.preference.learning-rate=0.1", "distill.teacher.top-k=4").Settings));
        Assert.NotEqual(preference, StageCaches.ConfigHash("preference", Cfg.Load("tiny", null, "distill.preference.prompts=5").Settings));

        var lines = StageCaches.TeacherSideSettings("mimic", s).Split('\n');
        Assert.Contains("Teacher.TopK=8", lines);
        Assert.Contains("Parallelism.ShardSize=16", lines);
        Assert.Contains("Seed=17", lines);
        Assert.Contains("Mimic.Scope=Response", lines);
        Assert.DoesNotContain(lines, l => l.StartsWith("RunDir=") || l.StartsWith("Eval.BatchSize=") || l.StartsWith("Cache.")
            || l.StartsWith("Model.") || l.StartsWith("Mimic.LearningRate=") || l.StartsWith("Parallelism.Loaders=") || l.StartsWith("Mod."));
    }

    [Fact]
    public void Every_setting_is_either_teacher_side_for_a_cached_stage_or_student_side_and_not_both()
    {
        var s = Cfg.Load("tiny").Settings;
        var llava = s with { Data = s.Data with { Llava = new LlavaDataSettings("t.json", null, null, 0.1, null, null, null, null, "c", "auto", "pad", 8, "truncate", 0.01, false) } };
        bool Under(string path, IEnumerable<string> keys) => keys.Any(k => path == k || path.StartsWith(k + ".", StringComparison.Ordinal));
        var teacherSide = new[] { "mimic", "mod", "preference" }.SelectMany(StageCaches.TeacherSideKeys).ToList();
        foreach (var path in SettingsLines.Paths(s).Concat(SettingsLines.Paths(llava)).Distinct())
            Assert.True(Under(path, teacherSide) != Under(path, StageCaches.StudentSideKeys),
                $"{path}: {(Under(path, teacherSide) ? "in both lists" : "in neither list")} (StageCaches.TeacherSideKeys / StudentSideKeys)");
        Assert.Contains("Data.Llava.ChatTemplate", SettingsLines.Paths(llava));

        var unknown = Assert.Throws<ArgumentException>(() => SettingsLines.Select(s, ["Mimic.NoSuchKey"]));
        Assert.Contains("'NoSuchKey' is not a property of MimicSettings", unknown.Message);
        Assert.Equal(SettingsLines.Of(s, new System.Text.RegularExpressions.Regex("(?!)")), SettingsLines.Select(s, [""]));
    }

    [Fact]
    public void Every_distillation_stage_gets_a_cache_keyed_by_its_name_and_mode_off_gives_none()
    {
        using var t = new TempDir();
        var (config, paths) = RunDirectory.Create(Cfg.Load("tiny", null, "distill.run-dir=r"), Now, t.Path);
        IShardSource Source() => throw new InvalidOperationException();
        ITeacherStep Teacher() => throw new InvalidOperationException();
        IStudentStep Student() => throw new InvalidOperationException();
        StageDefinition[] stages =
        [
            new ComputeStage("teacher", (_, _) => StageOutcome.Empty),
            new DistillStage("mimic", Source, Teacher, Student),
            new DistillStage("preference", Source, Teacher, Student),
        ];
        var teacherAsked = 0;

        var cached = StageCaches.Attach(stages, config.Settings, paths, () => $"teacher{++teacherAsked}", "tok", "data");

        Assert.IsType<ComputeStage>(cached[0]);
        var mimic = ((DistillStage)cached[1]).Cache!;
        Assert.Equal((Path.Combine(paths.Root, "cache"), CacheMode.Reuse), (mimic.Root, mimic.Mode));
        Assert.Equal(0, teacherAsked); // the teacher's fingerprint is taken when the stage starts
        var key = mimic.Key();
        Assert.Equal(("teacher1", "tok", "teacher/v2", "data", StageCaches.ConfigHash("mimic", config.Settings)),
            (key.TeacherFingerprint, key.TokenizerHash, key.Schema, key.DataFingerprint, key.ConfigHash));
        Assert.Equal("preference/v1", ((DistillStage)cached[2]).Cache!.Key().Schema);

        var off = config.Settings with { Cache = config.Settings.Cache with { Mode = CacheMode.Off } };
        Assert.All(StageCaches.Attach(stages, off, paths, () => "t", "tok", "data").OfType<DistillStage>(), d => Assert.Null(d.Cache));
    }
}
