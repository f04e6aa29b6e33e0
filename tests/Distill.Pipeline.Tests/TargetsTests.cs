using Distill.Pipeline.Reporting;
using Distill.Pipeline.Study;
using Distill.Stages.Evaluation;
using Distill.Stages.Scoring;

namespace Distill.Pipeline.Tests;

/// <summary>A run's flat figures, the targets checked on them, and a study's statistics and report.</summary>
public class TargetsTests
{
    /// <summary>A run that meets every target, each by a small margin.</summary>
    private static Dictionary<string, double> Meeting() => new()
    {
        ["teacher.overall"] = 0.80, ["sft.overall"] = 0.60, ["moe.overall"] = 0.74, ["preference.overall"] = 0.735, ["mod.overall"] = 0.725,
        ["teacher.activated_params"] = 1_000_000, ["moe.activated_params"] = 300_000,
        ["teacher.chair_i"] = 0.18, ["moe.chair_i"] = 0.20, ["preference.chair_i"] = 0.14,
        ["moe.pope_random_f1"] = 0.84, ["preference.pope_random_f1"] = 0.85,
        ["moe.pope_adversarial_f1"] = 0.80, ["preference.pope_adversarial_f1"] = 0.80,
        ["mod.layers"] = 8, ["mod.layers_converted"] = 5,
        ["preference.decoder_flops"] = 10e6, ["mod.decoder_flops"] = 5.5e6,
        ["preference.prefill_ms_b1"] = 10, ["mod.prefill_ms_b1"] = 6,
        ["preference.prefill_ms_batch"] = 50, ["mod.prefill_ms_batch"] = 30,
        ["preference.tokens_per_s_b1"] = 980, ["mod.tokens_per_s_b1"] = 1000,
        ["run.wall_s"] = 800, ["run.teacher_from_store"] = 0,
    };

    private static TargetCheck Of(IReadOnlyDictionary<string, double> figures, string name) => Targets.Check(figures).Single(c => c.Name == name);

    [Fact]
    public void A_run_that_meets_every_target_is_reported_met_with_its_figures()
    {
        var checks = Targets.Check(Meeting());
        Assert.Equal(15, checks.Count);
        Assert.All(checks, c => Assert.True(c.Met, $"{c.Name}: {c.Figure}"));
        Assert.Equal("teacher 80.0%, sft 60.0%: +20.0 points", Of(Meeting(), "teacher over sft").Figure);
        Assert.Equal("92.5% (74.0% of 80.0%)", Of(Meeting(), "moe share of teacher").Figure);
        Assert.Equal("30.0% (300,000 of 1.00M)", Of(Meeting(), "moe activated parameters").Figure);
        Assert.Equal("14.0% against 20.0%: -30.0%", Of(Meeting(), "preference CHAIR_i").Figure);
        Assert.Equal("adversarial 80.0 vs 80.0, random 85.0 vs 84.0", Of(Meeting(), "preference POPE F1").Figure);
        Assert.Equal("5 of 8", Of(Meeting(), "mod layers converted").Figure);
        Assert.Equal("6 against preference's 10: -40.0%", Of(Meeting(), "mod prefill batch 1").Figure);
        Assert.Equal("13m 20s", Of(Meeting(), "wall time").Figure);
    }

    [Fact]
    public void Exactly_at_a_threshold_is_met_and_just_past_it_is_missed()
    {
        var f = Meeting();
        (f["teacher.overall"], f["sft.overall"]) = (0.70, 0.60); // 0.7 - 0.6 is 0.0999... in binary
        Assert.True(Of(f, "teacher over sft").Met);
        f["teacher.overall"] = 0.699;
        Assert.False(Of(f, "teacher over sft").Met);

        f = Meeting();
        f["mod.prefill_ms_b1"] = 6.5; // -35% exactly
        Assert.True(Of(f, "mod prefill batch 1").Met);
        f["mod.prefill_ms_b1"] = 6.6;
        Assert.False(Of(f, "mod prefill batch 1").Met);

        f = Meeting();
        f["preference.pope_adversarial_f1"] = 0.799;
        Assert.False(Of(f, "preference POPE F1").Met);
        f = Meeting();
        f["preference.chair_i"] = 0.18; // the teacher's: not below it
        Assert.False(Of(f, "preference CHAIR_i below teacher").Met);
        f = Meeting();
        f["mod.overall"] = 0.7199;
        Assert.False(Of(f, "mod accuracy").Met);
    }

    [Fact]
    public void A_stored_teacher_holds_the_run_to_ten_minutes()
    {
        var f = Meeting();
        f["run.teacher_from_store"] = 1;
        var wall = Of(f, "wall time");
        Assert.False(wall.Met);
        Assert.Contains("at most 10 minutes (teacher from the store)", wall.Goal);
        f["run.wall_s"] = 600;
        Assert.True(Of(f, "wall time").Met);
    }

    [Fact]
    public void Without_preference_mod_is_compared_with_moe_and_missing_stages_are_not_measured()
    {
        var f = Meeting();
        foreach (var key in f.Keys.Where(k => k.StartsWith("preference.", StringComparison.Ordinal)).ToList()) f.Remove(key);
        (f["moe.prefill_ms_b1"], f["moe.prefill_ms_batch"], f["moe.decoder_flops"], f["moe.tokens_per_s_b1"]) = (20, 50, 10e6, 900);
        var checks = Targets.Check(f);
        Assert.Equal("6 against moe's 20: -70.0%", checks.Single(c => c.Name == "mod prefill batch 1").Figure);
        Assert.Equal(["preference CHAIR_i", "preference CHAIR_i below teacher", "preference POPE F1", "preference VQA"],
            checks.Where(c => c.Met is null).Select(c => c.Name));
        Assert.Equal("no preference.chair_i", checks.Single(c => c.Name == "preference CHAIR_i").Figure);
        Assert.Equal("not measured", checks.Single(c => c.Name == "preference VQA").Verdict);
    }

    [Fact]
    public void Run_figures_flatten_the_results_and_the_mod_stage()
    {
        var teacher = new EvaluationResult("teacher", 1_500_000, [new FamilyScore("colour", 9, 10, 0.2), new FamilyScore("existence", 16, 20, 0.5)])
        {
            ActivatedParameters = 1_200_000, DecoderFlopsPerSample = 40_000_000,
            Pope = [new PopeScore("random", 5, 5, 4, 1, 4, 0)],
            Chair = new ChairScore(10, 2, 30, 3, 1, 25, 20),
            Speed = new SpeedScore(8, 3, 16, 64, 4.5, 500, 20, 8000),
        };
        var stages = new[]
        {
            new StageSummary("teacher", TimeSpan.FromSeconds(1), new Dictionary<string, double> { ["reused_from_store"] = 1 }),
            new StageSummary("mod", TimeSpan.FromSeconds(1), new Dictionary<string, double>
                { ["arank.layer0"] = 10, ["arank.layer1"] = 5, ["arank.layer2"] = 7, ["converted.layer0"] = 0, ["converted.layer1"] = 1, ["converted.layer2"] = 1 }),
        };
        var f = RunFigures.Of([teacher], stages, TimeSpan.FromMinutes(9));
        Assert.Equal(25.0 / 30, f["teacher.overall"], 12);
        Assert.Equal(0.9, f["teacher.colour"], 12);
        Assert.Equal(0.8, f["teacher.existence"], 12);
        Assert.Equal(1_200_000, f["teacher.activated_params"]);
        Assert.Equal(0.1, f["teacher.chair_i"], 12);        // 3 of 30 mentions
        Assert.Equal(0.2, f["teacher.chair_s"], 12);        // 2 of 10 captions
        Assert.Equal(0.8, f["teacher.pope_random_f1"], 12); // TP 4, FP 1, FN 1
        Assert.Equal((500, 8000, 4.5, 20), (f["teacher.tokens_per_s_b1"], f["teacher.tokens_per_s_batch"], f["teacher.prefill_ms_b1"], f["teacher.prefill_ms_batch"]));
        Assert.Equal(0.4, f["chance.overall"], 12);         // (0.2 x 10 + 0.5 x 20) / 30
        Assert.Equal((3, 2), (f["mod.layers"], f["mod.layers_converted"]));
        Assert.Equal((540, 1), (f["run.wall_s"], f["run.teacher_from_store"]));

        using var dir = new TempDir();
        var path = Path.Combine(dir.Path, RunFigures.File);
        RunFigures.Write(path, f);
        Assert.Equal(f.OrderBy(kv => kv.Key), RunFigures.Read(path).OrderBy(kv => kv.Key));
        File.WriteAllText(path, "[1,2]");
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => RunFigures.Read(path)).Message);
    }

    [Fact]
    public void Study_statistics_are_mean_and_sample_deviation_over_the_runs_that_have_a_figure()
    {
        var stats = StudyStatistics.Of([
            new Dictionary<string, double> { ["moe.overall"] = 0.70, ["mod.layers"] = 8 },
            new Dictionary<string, double> { ["moe.overall"] = 0.74 },
            new Dictionary<string, double> { ["moe.overall"] = 0.72, ["mod.layers"] = 6 },
        ]);
        var moe = stats.Single(s => s.Key == "moe.overall");
        Assert.Equal(0.72, moe.Mean, 12);
        Assert.Equal(0.02, moe.Std, 12); // sqrt((0.02^2 + 0.02^2 + 0) / 2)
        Assert.Equal((3, 0.70, 0.74), (moe.Count, moe.Min, moe.Max));
        var layers = stats.Single(s => s.Key == "mod.layers");
        Assert.Equal((2, 7.0, Math.Sqrt(2)), (layers.Count, layers.Mean, layers.Std));
        Assert.True(double.IsNaN(layers.Values[1]));
    }

    [Fact]
    public void The_study_report_checks_the_targets_on_the_mean_and_counts_the_seeds_that_meet_each()
    {
        var first = Meeting();
        var second = Meeting();
        second["teacher.overall"] = 0.68;  // 8 points over sft: this seed misses; the mean (74.0) meets it
        second["sft.overall"] = 0.60;
        var result = new StudyResult("demo", ["teacher", "eval"], "distill run --seed <seed>", DateTimeOffset.UnixEpoch,
        [
            new StudyRun(17, "/s/seed-17", 0, 800, false, first, ""),
            new StudyRun(18, "/s/seed-18", 0, 810, true, second, ""),
            new StudyRun(19, "/s/seed-19", 1, 12, false, null, "stage mimic: boom (details: /s/seed-19/logs/error.log)"),
        ]);
        var stats = StudyStatistics.Of(result.Passed.Select(r => r.Figures!).ToList());
        var md = StudyReport.Markdown("s", result, stats).Split('\n').Select(l => l.TrimEnd('\r')).ToList();

        Assert.Contains("- Seeds: 17, 18, 19 (2 finished, 1 failed)", md);
        Assert.Contains("| 18 | finished (read back) | 13m 30s | seed-18 |", md);
        Assert.Contains("| 19 | FAILED (exit 1): stage mimic: boom (details: /s/seed-19/logs/error.log) | 12.0s | seed-19 |", md);
        Assert.Contains("| Target | Goal | Figure | Verdict | Seeds met |", md);
        Assert.Contains("| teacher over sft | teacher at least 10.0 points above the SFT-only student | teacher 74.0%, sft 60.0%: +14.0 points | met | 1 of 2 |", md);
        Assert.Contains(md, l => l.StartsWith("| teacher | 74.0 ± 8.5 | 18.0 ± 0.0 |", StringComparison.Ordinal)); // sd of 80, 68
        Assert.Equal(["teacher", "sft", "moe", "preference", "mod"], StudyReport.Models(stats.Select(s => s.Key)));

        var csv = StudyReport.Csv(stats, [17, 18]).Split('\n');
        Assert.Equal("key,mean,std,count,min,max,seed_17,seed_18", csv[0]);
        Assert.Contains("mod.layers,8,0,2,8,8,8,8", csv);
    }

    [Fact]
    public void Study_options_name_what_is_wrong()
    {
        Assert.Empty(new StudyOptions().Validate());
        Assert.Contains("--seeds must be at least 2", Assert.Single(new StudyOptions { Seeds = 1 }.Validate()));
        Assert.Contains("--seed must be at least 0", Assert.Single(new StudyOptions { BaseSeed = -1 }.Validate()));
        var define = new StudyOptions { Sources = new() { Overrides = ["distill.seed=3"] } }.Validate();
        Assert.Contains("-D distill.seed=3: the study sets distill.seed", Assert.Single(define));
    }
}
