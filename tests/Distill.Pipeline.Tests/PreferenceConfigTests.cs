using Distill.Models.Checkpoints;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Losses;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill.preference</c>: defaults, binding, validation, and which student the stage continues.</summary>
public class PreferenceConfigTests
{
    [Fact]
    public void Defaults_and_the_tiny_preset_bind()
    {
        var p = Cfg.Load().Settings.Preference;
        Assert.Equal(PreferenceLossKind.Sigmoid, p.Loss);
        Assert.Equal(0.1, p.Beta);
        Assert.Equal(["hallucination"], p.Sources);
        Assert.Equal(1.0, p.SftWeight);
        Assert.Equal(3, p.Epochs);
        Assert.Equal(1536, p.Prompts);
        Assert.Equal("", p.DatasetFile);
        Assert.Equal(4, p.SamplesPerPrompt);
        Assert.Equal(1e-4, p.Optimiser.LearningRate);
        Assert.True(p.Uses("hallucination"));
        Assert.False(p.Uses("student-sampled"));
        Assert.False(p.Uses("dataset"));
        var tiny = Cfg.Load("tiny").Settings.Preference;
        Assert.Equal(48, tiny.Prompts);
        Assert.Equal(1, tiny.Epochs);
        Assert.Equal(["student-sampled", "hallucination"], tiny.Sources);
    }

    [Fact]
    public void Overrides_bind_to_their_fields()
    {
        using var t = new TempDir();
        var file = t.File("pairs.jsonl", "");
        var p = Cfg.Load("tiny", null, "distill.preference.loss=kto-pair", "distill.preference.beta=0.25",
            "distill.preference.sources=[dataset, hallucination]", $"distill.preference.dataset-file=\"{file}\"",
            "distill.preference.temperature=0.7", "distill.preference.top-p=0.9", "distill.preference.heldout-prompts=3",
            "distill.preference.sft-weight=0.5").Settings.Preference;
        Assert.Equal(PreferenceLossKind.KtoPair, p.Loss);
        Assert.Equal(0.25, p.Beta);
        Assert.Equal(0.5, p.SftWeight);
        Assert.Equal(["dataset", "hallucination"], p.Sources);
        Assert.Equal(file, p.DatasetFile);
        Assert.Equal(0.7, p.Temperature);
        Assert.Equal(0.9, p.TopP);
        Assert.Equal(3, p.HeldOutPrompts);
    }

    [Fact]
    public void Bad_values_name_the_key_and_the_allowed_values()
    {
        var loss = Cfg.Single(Cfg.Errors("demo", null, "distill.preference.loss=dpo"));
        Assert.Contains("distill.preference.loss", loss);
        Assert.Contains("'dpo'", loss);
        Assert.Contains("sigmoid, kto-pair, ipo", loss);

        var sources = Cfg.Single(Cfg.Errors("demo", null, "distill.preference.sources=[teacher-sampled]"));
        Assert.Contains("distill.preference.sources", sources);
        Assert.Contains("dataset, student-sampled, hallucination", sources);

        Assert.Contains("out of range", Cfg.Single(Cfg.Errors("demo", null, "distill.preference.beta=0")));
        Assert.Contains("2..64", Cfg.Single(Cfg.Errors("demo", null, "distill.preference.samples-per-prompt=1")));
        Assert.Contains("distill.preference.top-p", Cfg.Single(Cfg.Errors("demo", null, "distill.preference.top-p=1.5")));
    }

    [Fact]
    public void Dataset_source_and_dataset_file_go_together_and_the_file_must_exist()
    {
        Assert.Contains("'dataset' needs distill.preference.dataset-file",
            Cfg.Single(Cfg.Errors("demo", null, "distill.preference.sources=[dataset]")));
        using var t = new TempDir();
        var file = t.File("pairs.jsonl", "");
        Assert.Contains("does not list 'dataset'",
            Cfg.Single(Cfg.Errors("demo", null, $"distill.preference.dataset-file=\"{file}\"")));
        var missing = Cfg.Single(Cfg.Errors("demo", null, "distill.preference.sources=[dataset]", "distill.preference.dataset-file=/nonexistent/pairs.jsonl"));
        Assert.Contains("distill.preference.dataset-file: file '/nonexistent/pairs.jsonl' does not exist", missing);
        Assert.Contains("would mine no pair", Cfg.Single(Cfg.Errors("demo", null, "distill.preference.prompts=0")));
        Assert.Equal(0, Cfg.Load("demo", null, "distill.preference.sources=[dataset]", $"distill.preference.dataset-file=\"{file}\"",
            "distill.preference.prompts=0").Settings.Preference.Prompts); // a dataset alone needs no mining
    }

    [Fact]
    public void Preference_runs_after_mimic_and_before_eval_and_needs_a_teacher()
    {
        Assert.Equal(["teacher", "mimic", "preference", "eval"],
            Cfg.Load("demo", null, "distill.stages=[teacher, mimic, preference, eval]").Settings.Stages);
        Assert.Contains("'mimic' cannot run after 'preference'",
            Cfg.Single(Cfg.Errors("demo", null, "distill.stages=[teacher, preference, mimic]")));
        Assert.Contains("'preference' needs a teacher", Cfg.Single(Cfg.Errors("demo", null, "distill.stages=[preference]")));
    }

    [Fact]
    public void The_stage_continues_student_moe_else_student_dense()
    {
        using var t = new TempDir();
        var (loaded, paths) = RunDirectory.Create(Cfg.Load("tiny", null, $"distill.run-dir=\"{Path.Combine(t.Path, "run")}\""), DateTimeOffset.UtcNow);
        var data = new ShapesData(paths.Data, Distill.Stages.Text.WordTokenizer.Build(["is there a red circle?"]), 32, 16);
        var catalog = new StageCatalog(loaded.Settings, paths, data, "fp");
        var error = Assert.Throws<InvalidOperationException>(() => catalog.PreferenceInput());
        Assert.Contains(Path.Combine(paths.Checkpoints, "student-dense"), error.Message);
        Assert.Contains("run 'mimic' before 'preference'", error.Message);

        foreach (var dir in new[] { "student-dense", "student-moe" })
        {
            Directory.CreateDirectory(Path.Combine(paths.Checkpoints, dir));
            File.WriteAllText(Path.Combine(paths.Checkpoints, dir, Checkpoint.WeightsFile), "");
            Assert.Equal(Path.Combine(paths.Checkpoints, dir), catalog.PreferenceInput());
        }
        Assert.Equal(Path.Combine(paths.Checkpoints, "student-pref"), catalog.PreferenceDir);
    }
}
