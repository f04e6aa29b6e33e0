using Distill.Stages.Distillation;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Tests;

public class ConfigLoaderTests
{
    [Fact]
    public void Demo_preset_is_the_default_and_binds_the_defaults()
    {
        var c = ConfigLoader.Load(new ConfigSources());
        var s = c.Settings;
        Assert.Equal("demo", c.Preset);
        Assert.Equal(["teacher", "sft", "mimic", "preference", "mod", "eval"], s.Stages);
        Assert.Equal(48, s.Data.ImageSize);
        Assert.Equal(["colour", "shape", "count", "position", "relation", "existence", "caption"], s.Data.Families);
        Assert.Equal(2, s.Data.ExistenceWeight);
        Assert.Equal(160, s.Model.Teacher.HiddenSize);
        Assert.Equal(-1, s.Model.Vision.SelectLayer);
        Assert.Equal(5e-4, s.Teacher.Optimiser.LearningRate);
        Assert.Equal(TokenScope.Response, s.Mimic.Scope);
        Assert.Equal(8388608L, s.Transport.MaxBatchBytes);
        Assert.Equal("", s.RunDir);
    }

    [Fact]
    public void Tiny_preset_loads_and_validates()
    {
        var s = Cfg.Load("tiny").Settings;
        Assert.Equal(32, s.Data.ImageSize);
        Assert.Equal(96, s.Data.TrainScenes);
        Assert.Equal(2, s.Parallelism.TeacherWorkers);
        Assert.Equal(1, s.Model.Student.KvHeads);
        Assert.Equal(1, s.Mimic.D2dEpochs);
        Assert.Equal(17, s.Seed); // default, untouched by the preset
    }

    [Fact]
    public void Every_preset_file_validates()
    {
        var presets = HoconLocator.Presets(Cfg.HoconDir);
        Assert.Contains("tiny", presets);
        Assert.Contains("demo", presets);
        foreach (var p in presets) Cfg.Load(p);
    }

    [Fact]
    public void Override_wins_over_file_over_preset_over_default()
    {
        using var t = new TempDir();
        var file = t.File("my.conf", "distill { mimic { d2d-epochs = 5 }\n data.image-size = 40 }");
        var c = Cfg.Load("tiny", file, "distill.mimic.d2d-epochs=7");
        Assert.Equal(7, c.Settings.Mimic.D2dEpochs);            // -D over file
        Assert.Equal(40, c.Settings.Data.ImageSize);         // file over preset
        Assert.Equal(1, c.Settings.Teacher.Epochs);          // preset over default
        Assert.Equal(1, c.Settings.Data.MinObjects);         // default
        Assert.Equal("-D distill.mimic.d2d-epochs=7", c.SourceOf("distill.mimic.d2d-epochs"));
        Assert.Equal("file " + file, c.SourceOf("distill.data.image-size"));
        Assert.Equal("preset tiny", c.SourceOf("distill.teacher.epochs"));
    }

    [Fact]
    public void Later_override_wins_and_values_are_hocon()
    {
        var s = Cfg.Load("demo", null,
            "distill.seed=1", "distill.seed=2",
            "distill.data.families=[colour, count]",
            "distill.mimic.scope=\"all\"",
            "distill.data.dir=/tmp//odd dir",
            "distill.mimic.kd-weight=5e-1").Settings;
        Assert.Equal(2, s.Seed);
        Assert.Equal(["colour", "count"], s.Data.Families);
        Assert.Equal(TokenScope.All, s.Mimic.Scope);
        Assert.Equal("/tmp//odd dir", s.Data.Dir);
        Assert.Equal(0.5, s.Mimic.KdWeight);
    }

    [Fact]
    public void Unknown_key_names_it_lists_the_level_and_suggests_the_close_one()
    {
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.mimic.d2d-epoch=3"));
        Assert.Contains("unknown key distill.mimic.d2d-epoch ", e);
        Assert.Contains("allowed keys in distill.mimic: projector-warmup-epochs, d2d-epochs, d2s-epochs, batch-size", e);
        Assert.Contains("did you mean distill.mimic.d2d-epochs?", e);
    }

    [Fact]
    public void Unknown_key_in_a_file_names_the_file_and_a_key_from_another_section()
    {
        using var t = new TempDir();
        var file = t.File("bad.conf", "distill {\n  top-k = 4\n  sections { a = 1 }\n}\nakka { loglevel = DEBUG }\n");
        var errors = Cfg.Errors("demo", file);
        Assert.Equal(3, errors.Count);
        Assert.Contains(errors, e => e.Contains("unknown key distill.top-k") && e.Contains(file) && e.Contains("did you mean distill.teacher.top-k?"));
        Assert.Contains(errors, e => e.Contains("unknown key distill.sections") && e.Contains("allowed keys in distill: run-dir, seed, stages, torch-threads, device, dtype, data, model"));
        Assert.Contains(errors, e => e.Contains("unknown top-level key 'akka'"));
    }

    [Fact]
    public void Bad_enum_names_key_value_and_allowed_values()
    {
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.mimic.scope=everything"));
        Assert.Contains("distill.mimic.scope", e);
        Assert.Contains("'everything'", e);
        Assert.Contains("response, all", e);
    }

    [Fact]
    public void Bad_list_items_are_named()
    {
        var errors = Cfg.Errors("demo", null, "distill.data.families=[colour, colour, size]", "distill.stages=[teacher, train]");
        Assert.Equal(2, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("distill.data.families:") && e.Contains("'colour' appears twice") && e.Contains("'size' is not allowed") && e.Contains("colour, shape, count, position, relation, existence, caption"));
        Assert.Contains(errors, e => e.StartsWith("distill.stages:") && e.Contains("'train' is not allowed") && e.Contains("teacher, sft, mimic, preference, mod, eval"));
    }

    [Fact]
    public void Out_of_range_int_names_key_value_and_range()
    {
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.parallelism.loaders=0"));
        Assert.Contains("distill.parallelism.loaders", e);
        Assert.Contains("0 is out of range", e);
        Assert.Contains("1..256", e);
    }

    [Fact]
    public void Non_positive_learning_rate_is_refused()
    {
        var e = Cfg.Single(Cfg.Errors("demo", null, "distill.teacher.learning-rate=0"));
        Assert.Contains("distill.teacher.learning-rate", e);
        Assert.Contains("out of range", e);
    }

    [Fact]
    public void Wrong_types_are_reported_all_at_once()
    {
        var errors = Cfg.Errors("demo", null,
            "distill.seed=abc",
            "distill.mimic.d2d-epochs=2.5",
            "distill.stages=teacher",
            "distill.model=5",
            "distill.eval.batch-size=[1, 2]",
            "distill.teacher.top-k={ a = 1 }");
        Assert.Equal(6, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("distill.seed: expected an integer") && e.Contains("'abc'"));
        Assert.Contains(errors, e => e.StartsWith("distill.mimic.d2d-epochs: expected an integer") && e.Contains("'2.5'"));
        Assert.Contains(errors, e => e.StartsWith("distill.stages: expected a list") && e.Contains("'teacher'"));
        Assert.Contains(errors, e => e.StartsWith("distill.model must be an object"));
        Assert.Contains(errors, e => e.StartsWith("distill.eval.batch-size: expected an integer") && e.Contains("[1, 2]"));
        Assert.Contains(errors, e => e.StartsWith("distill.teacher.top-k: expected an integer") && e.Contains("object"));
    }

    [Fact]
    public void Missing_config_file_is_named()
    {
        var e = Cfg.Single(Cfg.Errors("demo", "/nonexistent/my.conf"));
        Assert.Contains("config file '/nonexistent/my.conf' not found", e);
    }

    [Fact]
    public void Unparsable_config_file_is_named_with_the_parser_message()
    {
        using var t = new TempDir();
        var file = t.File("broken.conf", "distill {\n  seed = ${nowhere}\n}\n");
        var e = Cfg.Single(Cfg.Errors("demo", file));
        Assert.Contains(file, e);
        Assert.Contains("cannot parse HOCON", e);
        Assert.Contains("nowhere", e);
    }

    [Fact]
    public void Unknown_preset_lists_the_available_ones()
    {
        var e = Cfg.Single(Cfg.Errors("huge"));
        Assert.Contains("unknown preset 'huge'", e);
        Assert.Contains("demo, tiny", e);
    }

    [Theory]
    [InlineData("seed=3", "must be a path starting with 'distill.'")]
    [InlineData("akka.loglevel=DEBUG", "must be a path starting with 'distill.'")]
    [InlineData("distill.seed", "-D expects key=value")]
    public void Override_syntax_is_checked(string define, string expected)
    {
        Assert.Contains(expected, Cfg.Single(Cfg.Errors("demo", null, define)));
    }

    [Fact]
    public void Stage_order_and_teacher_requirement_are_checked()
    {
        Assert.Contains("'teacher' cannot run after 'mimic'", Cfg.Single(Cfg.Errors("demo", null, "distill.stages=[mimic, teacher]")));

        var errors = Cfg.Errors("demo", null, "distill.stages=[mimic, eval]");
        Assert.Equal(2, errors.Count);
        Assert.All(errors, e => Assert.Contains("needs a teacher", e));

        using var t = new TempDir();
        // A teacher directory is read at start-up: one without config.json is refused naming the key and the file.
        Assert.Equal($"distill.teacher.checkpoint: {Path.Combine(t.Path, "config.json")}: the model directory has no config.json.",
            Cfg.Single(Cfg.Errors("demo", null, "distill.stages=[mimic, eval]", $"distill.teacher.checkpoint=\"{t.Path}\"")));
        FakeTeacher.ConfigOnly(t.Path);
        var s = Cfg.Load("demo", null, "distill.stages=[mimic, eval]", $"distill.teacher.checkpoint=\"{t.Path}\"").Settings;
        Assert.Equal(["mimic", "eval"], s.Stages);
        Assert.Equal(t.Path, s.Teacher.Checkpoint);

        Assert.Contains("does not exist", Cfg.Single(Cfg.Errors("demo", null, "distill.teacher.checkpoint=/nonexistent/teacher")));
    }

    [Fact]
    public void Cross_key_constraints_are_checked()
    {
        var errors = Cfg.Errors("demo", null,
            "distill.data.min-objects=5", "distill.data.max-objects=2",
            "distill.data.image-size=50",
            "distill.model.student.kv-heads=3",
            "distill.model.vision.select-layer=-4",
            "distill.mimic.kd-weight=0", "distill.mimic.ce-weight=0");
        Assert.Equal(5, errors.Count);
        Assert.Contains(errors, e => e.Contains("min-objects (5) must not exceed distill.data.max-objects (2)"));
        Assert.Contains(errors, e => e.Contains("image-size (50) must be a multiple of distill.model.vision.patch-size (8)"));
        Assert.Contains(errors, e => e.Contains("distill.model.student.kv-heads (3) must divide"));
        Assert.Contains(errors, e => e.Contains("select-layer (-4)"));
        Assert.Contains(errors, e => e.Contains("both 0"));
    }

    [Fact]
    public void Mod_settings_bind_and_an_impossible_layer_plan_names_the_keys()
    {
        var m = ConfigLoader.Load(new ConfigSources()).Settings.Mod;
        Assert.Equal((1, 1, 0.5, 1.0), (m.KeepFirst, m.KeepLast, m.TargetFraction, m.RoutingLossWeight));
        Assert.Equal((0.005, 0.0, 1), (m.PrefillThreshold, m.DecodeThreshold, m.LatencyThreads));

        var kept = Cfg.Single(Cfg.Errors("demo", null, "distill.mod.keep-first=3", "distill.mod.keep-last=1"));
        Assert.Contains("distill.mod.keep-first (3) + distill.mod.keep-last (1)", kept);
        Assert.Contains("distill.model.student.layers", kept);
        Assert.Contains("distill.mod.target-fraction (0.2)", Cfg.Single(Cfg.Errors("demo", null, "distill.mod.target-fraction=0.2")));
        Assert.Contains("distill.mod.kd-weight and distill.mod.ce-weight are both 0",
            Cfg.Single(Cfg.Errors("demo", null, "distill.mod.kd-weight=0", "distill.mod.ce-weight=0")));
        Assert.Contains("distill.mod.skip-ratio", Cfg.Single(Cfg.Errors("demo", null, "distill.mod.skip-ratio=1.5")));
        // Without the mod stage its plan is not checked.
        Assert.Equal(3, Cfg.Load("demo", null, "distill.stages=[teacher, mimic, eval]", "distill.mod.keep-first=3").Settings.Mod.KeepFirst);
    }

    [Fact]
    public void Resolved_hocon_parses_back_to_the_same_configuration()
    {
        var c = Cfg.Load("tiny", null, "distill.mimic.d2d-epochs=3", "distill.data.dir=/tmp/x y", "distill.mimic.scope=all");
        using var t = new TempDir();
        var file = t.File("resolved.conf", c.ToHocon("header line\nsecond"));
        var again = Cfg.Load("demo", file);
        Assert.Equal(Body(c.ToHocon()), Body(again.ToHocon()));
        Assert.Equal(3, again.Settings.Mimic.D2dEpochs);
        Assert.Equal(32, again.Settings.Data.ImageSize);
        Assert.Equal("/tmp/x y", again.Settings.Data.Dir);

        static string Body(string hocon) => string.Join("\n", hocon.Split('\n')
            .Where(l => !l.StartsWith('#'))
            .Select(l => l.Split("  #")[0]));
    }
}
