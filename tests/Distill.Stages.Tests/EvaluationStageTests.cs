using Distill.Stages.Scoring;
using System.Text.Json;
using Distill.Models;
using Distill.Models.Accounting;
using Distill.Models.Checkpoints;
using Distill.Models.Config;
using Distill.Models.Mod;
using Distill.Stages.Data;
using Distill.Stages.Evaluation;
using Distill.Stages.Flow;
using Distill.Stages.Text;
using Distill.Stages.Workspace;
using TorchSharp;
using Xunit;

namespace Distill.Stages.Tests;

/// <summary>The eval stage on a tiny dataset with randomly initialised checkpoints (teacher, dense student, MoD
/// student whose prefill threshold of 1 skips every image token), run once for the class: results, predictions,
/// POPE, CHAIR, speed, FLOPs at the measured MoD keep ratio, and the export of the final student.</summary>
public sealed class EvaluationStageTests : IClassFixture<EvaluationStageTests.Run>
{
    public sealed class Run : IDisposable
    {
        public readonly TempDir Dir = new();
        public PreparedData Data { get; }
        public string Checkpoints => Dir.File("checkpoints");
        public string TeacherDir => Dir.File("teacher");
        public string EvalDir => Dir.File("eval");
        public string ExportDir => Dir.File("export");
        public IReadOnlyList<EvaluatedModel> Lineup { get; }
        public StageOutcome Outcome { get; }
        public IReadOnlyList<EvaluationResult> Results { get; }
        public VlmConfig Student { get; }

        public Run()
        {
            var options = new ShapesOptions
            {
                ImageSize = 16, TrainScenes = 12, ValScenes = 2, TestScenes = 12, QuestionsPerScene = 8,
                MinObjects = 1, MaxObjects = 3, Seed = 5, ExistenceWeight = 2,
            };
            var vision = new VisionConfig(16, 8, 16, 32, 1, 2) { HiddenAct = "gelu" };
            Data = DataPreparation.Prepare(options, Dir.File("data"), null, Dir.File("tokenizer.json"), vision.NumPatches).Data;
            var tokenizer = Data.Tokenizer;
            torch.manual_seed(11);
            var teacher = new VlmConfig(vision, new DecoderConfig(tokenizer.VocabSize, 32, 64, 2, 2, 1, MaxPositions: 96), Data.ImageTokenId) { VisionFeatureLayer = -1 };
            Student = new VlmConfig(vision, new DecoderConfig(tokenizer.VocabSize, 16, 32, 2, 2, 1, MaxPositions: 96), Data.ImageTokenId) { VisionFeatureLayer = -1 };
            using (var t = new VisionLanguageModel(teacher)) Checkpoint.Save(t, TeacherDir);
            using (var d = new VisionLanguageModel(Student))
            {
                Checkpoint.Save(d, Path.Combine(Checkpoints, "student-dense"));
                Data.SaveProcessingFiles(Path.Combine(Checkpoints, "student-dense"));
            }
            using (var m = new VisionLanguageModel(Student).ConvertToMod(new ModConfig([1], PrefillThreshold: 1.0)))
                Checkpoint.Save(m, Path.Combine(Checkpoints, "student-mod"));   // no tokenizer.json: the export writes the run's

            Lineup = ModelLineup.Existing(TeacherDir, Checkpoints);
            var evaluator = new VqaEvaluator(Data, batchSize: 16, maxNewTokens: 4, maxPerFamily: 0,
                family => ShapesChance.ChanceLevel(family, options));
            var stage = new EvaluationStage(evaluator, Lineup.Select(m => (m.Name, m.Checkpoint)).ToList(), EvalDir)
            {
                Speed = new SpeedMeasurement(Data, prompts: 2, repeats: 1, newTokens: 3, batch: 3),
                Export = new ExportPlan(ModelLineup.FinalStudent(Checkpoints)!, ExportDir, Data),
            };
            Outcome = stage.Run(NullStageProgress.Instance, CancellationToken.None);
            Results = EvaluationStage.ReadResults(EvalDir);
        }

        public IReadOnlyList<Prediction> Predictions(string model) =>
            File.ReadAllLines(Path.Combine(EvalDir, EvaluationStage.PredictionsFile(model)))
                .Select(l => JsonSerializer.Deserialize<Prediction>(l)!).ToList();

        public void Dispose() => Dir.Dispose();
    }

    private readonly Run _run;
    public EvaluationStageTests(Run run) => _run = run;

    [Fact]
    public void Evaluates_the_teacher_and_every_existing_student_in_lineup_order_one_record_each()
    {
        Assert.Equal(["teacher", "dense", "mod"], _run.Lineup.Select(m => m.Name));
        Assert.Equal(["teacher", "dense", "mod"], _run.Results.Select(r => r.Model));
        var test = _run.Data.Samples("test");
        foreach (var r in _run.Results)
        {
            Assert.Equal(test.Count, r.Families.Sum(f => f.Total));
            Assert.Equal(test.Count, _run.Predictions(r.Model).Count);
        }
        Assert.Equal(3, _run.Outcome.Figures["models"]);
    }

    [Fact]
    public void Pope_per_setting_matches_the_existence_predictions_and_they_carry_their_probe()
    {
        var existence = _run.Data.Samples("test").Where(s => s.Task == ShapesVocabulary.Existence).ToList();
        Assert.NotEmpty(existence);
        foreach (var r in _run.Results)
        {
            var probes = _run.Predictions(r.Model).Where(p => p.Task == ShapesVocabulary.Existence).ToList();
            Assert.Equal(existence.Select(s => s.Probe), probes.Select(p => p.Probe));
            Assert.All(probes, p => Assert.NotNull(p.Probe));
            Assert.Equal(PopeMetrics.Compute(probes), r.Pope);
            Assert.Equal(existence.Count, r.Pope.Sum(p => p.Total));
            Assert.Equal(existence.Count(s => s.Answer == "yes"), r.Pope.Sum(p => p.Positives));
            Assert.Equal(existence.Select(s => s.Probe).Distinct().Count(), r.Pope.Count);
        }
    }

    [Fact]
    public void Chair_counts_the_hallucinations_listed_in_the_caption_predictions()
    {
        var captions = _run.Data.Samples("test").Count(s => s.Task == ShapesVocabulary.Caption);
        Assert.True(captions > 0);
        foreach (var r in _run.Results)
        {
            var predictions = _run.Predictions(r.Model).Where(p => p.Task == ShapesVocabulary.Caption).ToList();
            Assert.Equal(captions, r.Chair!.Captions);
            Assert.Equal(predictions.Sum(p => p.Hallucinated!.Count), r.Chair.HallucinatedMentions);
            Assert.Equal(predictions.Sum(p => CaptionObjects.Parse(p.Generated).Count), r.Chair.Mentions);
            Assert.All(_run.Predictions(r.Model).Where(p => p.Task != ShapesVocabulary.Caption), p => Assert.Null(p.Hallucinated));
        }
    }

    [Fact]
    public void Speed_is_measured_for_every_model_and_the_mod_flops_use_the_measured_keep_ratio()
    {
        foreach (var r in _run.Results)
        {
            var s = r.Speed!;
            Assert.Equal((2, 1, 3, 3), (s.Prompts, s.Repeats, s.NewTokens, s.Batch));
            Assert.True(s.PrefillMs > 0 && s.BatchPrefillMs > 0 && s.TokensPerSecond > 0 && s.BatchTokensPerSecond > 0, s.ToString());
            Assert.True(double.IsFinite(s.TokensPerSecond) && double.IsFinite(s.BatchTokensPerSecond));
            Assert.Equal(s.PrefillMs, _run.Outcome.Figures[$"{r.Model}_prefill_ms"]);
        }
        Assert.Null(_run.Results[0].Speed!.ModKeepRatio);
        Assert.Null(_run.Results[1].Speed!.ModKeepRatio);
        var mod = _run.Results[2];
        Assert.Equal(0.0, mod.Speed!.ModKeepRatio);          // prefill threshold 1: no image token has p > 1

        var rows = _run.Data.Rows("test");
        int text = (int)Math.Round(rows.Average(r => r.InputIds.Length - _run.Data.ImageTokens));
        var modConfig = Checkpoint.ReadConfig(Path.Combine(_run.Checkpoints, "student-mod")).Vlm!;
        var atZero = FlopAccounting.Forward(modConfig, SequenceShape.ForImage(modConfig, text, 0.0));
        var atConfig = FlopAccounting.Forward(modConfig, SequenceShape.ForImage(modConfig, text));
        Assert.Equal(atZero.Total, mod.FlopsPerSample);
        Assert.Equal(atZero.PerToken, mod.FlopsPerToken, 9);
        Assert.True(mod.FlopsPerSample < atConfig.Total);
        var dense = _run.Results[1];
        Assert.Equal(FlopAccounting.Forward(_run.Student, SequenceShape.ForImage(_run.Student, text)).Total, dense.FlopsPerSample);
        Assert.Equal(ParameterAccounting.Total(modConfig), mod.Parameters);
    }

    [Fact]
    public void A_prefill_threshold_of_zero_keeps_every_image_token()
    {
        torch.manual_seed(2);
        using var model = new VisionLanguageModel(_run.Student).ConvertToMod(new ModConfig([0, 1], PrefillThreshold: 0.0));
        var speed = new SpeedMeasurement(_run.Data, prompts: 2, repeats: 1, newTokens: 2, batch: 2).Measure(model, "test", CancellationToken.None);
        Assert.Equal(1.0, speed.ModKeepRatio);
    }

    [Fact]
    public void Exports_the_newest_student_loadable_with_the_same_logits()
    {
        Assert.Equal(_run.ExportDir, _run.Outcome.Checkpoint);
        Assert.Equal(["README.txt", "config.json", "model.safetensors", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json"],
            Directory.GetFiles(_run.ExportDir).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Contains("model 'mod' (MoD decoder)", StudentExport.Describe(_run.ExportDir));
        Assert.False(Directory.Exists(_run.ExportDir + ".tmp"));
        Assert.Equal(_run.Data.Tokenizer.Hash, WordTokenizer.Load(Path.Combine(_run.ExportDir, "tokenizer.json")).Hash);

        using var exported = Checkpoint.Load(_run.ExportDir);
        using var source = Checkpoint.Load(Path.Combine(_run.Checkpoints, "student-mod"));
        Assert.Equal(source.Config, exported.Config);
        exported.eval();
        source.eval();
        var row = _run.Data.Rows("test")[0];
        using var pixels = ImageTensors.FromRgb([row.Image], _run.Data.ImageFormat);
        using var ids = torch.tensor(row.InputIds.Select(i => (long)i).ToArray(), [1, row.InputIds.Length]);
        using var _ = torch.no_grad();
        using var a = exported.Forward(pixels, ids);
        using var b = source.Forward(pixels, ids);
        Assert.Equal(new long[] { 1, row.InputIds.Length, _run.Data.Tokenizer.VocabSize }, a.shape);
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
        Assert.Equal(ParameterAccounting.Total(exported.Config), _run.Outcome.Figures["exported_params"]);
    }

    [Fact]
    public void Export_prefers_mod_then_pref_then_moe_then_dense_and_needs_weights_and_config()
    {
        using var dir = new TempDir();
        Assert.Null(ModelLineup.FinalStudent(dir.Path));
        void Make(string name, bool config = true)
        {
            Directory.CreateDirectory(dir.File(name));
            File.WriteAllText(Path.Combine(dir.File(name), Checkpoint.WeightsFile), "");
            if (config) File.WriteAllText(Path.Combine(dir.File(name), Checkpoint.ConfigFile), "{}");
        }
        Make("sft");
        Assert.Null(ModelLineup.FinalStudent(dir.Path));          // the SFT baseline is not a distilled student
        Make("student-dense");
        Assert.Equal("dense", ModelLineup.FinalStudent(dir.Path)!.Name);
        Make("student-pref");
        Make("student-moe");
        Assert.Equal("preference", ModelLineup.FinalStudent(dir.Path)!.Name);
        Make("student-mod", config: false);                       // half-written: not a checkpoint yet
        Assert.Equal("preference", ModelLineup.FinalStudent(dir.Path)!.Name);
        Assert.Equal(["teacher", "sft", "dense", "moe", "preference"], ModelLineup.Existing("t", dir.Path).Select(m => m.Name));
    }

    [Fact]
    public void A_family_whose_answers_are_longer_than_max_new_tokens_gets_their_length()
    {
        using var model = Checkpoint.Load(_run.TeacherDir);
        var evaluator = new VqaEvaluator(_run.Data, batchSize: 16, maxNewTokens: 2, maxPerFamily: 0, _ => 0.5);
        var (_, predictions) = evaluator.Evaluate(model, "teacher", "test", NullStageProgress.Instance, CancellationToken.None);
        var tokenizer = _run.Data.Tokenizer;
        int Length(string text) => tokenizer.Encode(text).Length;
        var captions = predictions.Where(p => p.Task == ShapesVocabulary.Caption).ToList();
        int longest = captions.Max(p => Length(p.Reference));
        Assert.True(longest + 1 > 2);
        // A random model rarely says eos, so its captions run to the family's budget: longer than max-new-tokens.
        Assert.Contains(captions, p => Length(p.Generated) > 2);
        Assert.All(captions, p => Assert.True(Length(p.Generated) <= longest + 1, p.Generated));
        Assert.All(predictions.Where(p => p.Task == ShapesVocabulary.Colour), p => Assert.True(Length(p.Generated) <= 2, p.Generated));
    }
}
