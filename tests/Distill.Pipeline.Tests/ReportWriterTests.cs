using Distill.Pipeline.Reporting;
using Distill.Stages.Evaluation;

namespace Distill.Pipeline.Tests;

public class ReportWriterTests
{
    private static ReportInput Sample() => new(
        "20250101-120000-demo",
        new DateTimeOffset(2025, 1, 1, 12, 0, 0, TimeSpan.Zero),
        TimeSpan.FromSeconds(754),
        [
            new EvaluationResult("teacher", 1_500_000, [new FamilyScore("colour", 90, 100, 1.0 / 6), new FamilyScore("existence", 45, 50, 0.5)]),
            new EvaluationResult("student-dense", 480_000, [new FamilyScore("colour", 60, 100, 1.0 / 6), new FamilyScore("existence", 40, 50, 0.5)]),
        ],
        [
            new StageSummary("teacher", TimeSpan.FromSeconds(312.4), new Dictionary<string, double> { ["loss"] = 0.41234, ["samples/s"] = 120.5 }),
            new StageSummary("mimic", TimeSpan.FromSeconds(65), new Dictionary<string, double> { ["kl"] = 0.0001234 }),
            new StageSummary("eval", TimeSpan.FromSeconds(9.24), new Dictionary<string, double>()),
        ])
    {
        Summary = [new("Preset", "demo"), new("Seed", "17")],
    };

    [Fact]
    public void Accuracy_table_lists_models_families_chance_overall_and_params()
    {
        var lines = ReportWriter.Render(Sample()).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var at = Array.IndexOf(lines, "| Model | Params | colour | existence | Overall |");
        Assert.True(at > 0, string.Join("\n", lines));
        Assert.Equal("| --- | --- | ---: | ---: | ---: |", lines[at + 1]);
        Assert.Equal("| _chance_ |  | _16.7_ | _50.0_ | _27.8_ |", lines[at + 2]);
        Assert.Equal("| teacher | 1.50M | 90.0 | 90.0 | 90.0 |", lines[at + 3]);
        Assert.Equal("| student-dense | 480,000 | 60.0 | 80.0 | 66.7 |", lines[at + 4]);
    }

    [Fact]
    public void Stage_table_and_summary()
    {
        var text = ReportWriter.Render(Sample());
        Assert.StartsWith("# Distill report: 20250101-120000-demo", text);
        Assert.Contains("- Wall time: 12m 34s", text);
        Assert.Contains("- Preset: demo", text);
        Assert.Contains("- student-dense: 66.7% overall vs teacher 90.0% with 0.32x the teacher's parameters", text);
        Assert.Contains("| Stage | Wall time | Key figures |", text);
        Assert.Contains("| teacher | 5m 12s | loss 0.4123, samples/s 120.5 |", text);
        Assert.Contains("| mimic | 1m 05s | kl 1.234e-4 |", text);
        Assert.Contains("| eval | 9.2s |  |", text);
    }

    [Fact]
    public void Handles_no_results_and_writes_the_file()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "report.md");
        ReportWriter.Write(path, new ReportInput("r", DateTimeOffset.UnixEpoch, TimeSpan.Zero, [], []));
        var text = File.ReadAllText(path);
        Assert.Contains("No model was evaluated.", text);
        Assert.Contains("No stage ran.", text);
    }

    [Fact]
    public void Epoch_figures_become_learning_curve_rows_and_leave_the_stage_table()
    {
        var input = Sample() with
        {
            Stages =
            [
                new StageSummary("teacher", TimeSpan.FromSeconds(10), new Dictionary<string, double> { ["val_loss_epoch1"] = 0.7, ["val_loss_epoch2"] = 0.5, ["params"] = 1000 }),
                new StageSummary("mimic", TimeSpan.FromSeconds(5), new Dictionary<string, double> { ["heldout_kl_epoch0"] = 3.1, ["heldout_kl_epoch1"] = 0.25, ["heldout_kl_epoch2"] = 0.125 }),
            ],
        };
        var lines = ReportWriter.Render(input).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var at = Array.IndexOf(lines, "| Stage | Metric | epoch 0 | epoch 1 | epoch 2 |");
        Assert.True(at > 0, string.Join("\n", lines));
        Assert.Equal("| teacher | val_loss |  | 0.7 | 0.5 |", lines[at + 2]);
        Assert.Equal("| mimic | heldout_kl | 3.1 | 0.25 | 0.125 |", lines[at + 3]);
        Assert.Contains("| teacher | 10.0s | params 1000 |", lines);
    }

    [Fact]
    public void Size_and_cost_table_lists_accounted_models_only()
    {
        var input = Sample() with
        {
            Results =
            [
                new EvaluationResult("teacher", 1_500_000, [new FamilyScore("colour", 9, 10, 0.2)])
                    { ActivatedParameters = 1_500_000, FlopsPerSample = 45_600_000, DecoderFlopsPerSample = 40_000_000 },
                new EvaluationResult("student", 480_000, [new FamilyScore("colour", 8, 10, 0.2)]),
            ],
        };
        var lines = ReportWriter.Render(input).Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        var at = Array.IndexOf(lines, "| Model | Params | Activated / token | FLOPs / token | Forward FLOPs / sample | Decoder FLOPs / sample |");
        Assert.True(at > 0, string.Join("\n", lines));
        Assert.Equal("| teacher | 1.50M | 1.50M | – | 45.60 M | 40.00 M |", lines[at + 2]);
        Assert.Equal("", lines[at + 3]); // the unaccounted student has no row
    }

    [Fact]
    public void Mod_section_lists_every_layers_arank_the_converted_ones_and_before_after()
    {
        var figures = new Dictionary<string, double>
        {
            ["arank.layer0"] = 30.5, ["arank.layer1"] = 12.25, ["arank.layer2"] = 14, ["arank.layer3"] = 29,
            ["converted.layer0"] = 0, ["converted.layer1"] = 1, ["converted.layer2"] = 1, ["converted.layer3"] = 0,
            ["image_keep_share.layer1"] = 0.25, ["image_keep_share.layer2"] = 0.5, ["calibration_samples"] = 64,
            ["decoder_flops_before"] = 40_000_000, ["decoder_flops_after"] = 26_000_000,
            ["prefill_batch"] = 64, ["latency_threads"] = 1, ["prefill_ms_before"] = 20, ["prefill_ms_after"] = 15,
            ["accuracy_before"] = 0.7, ["accuracy_after"] = 0.69,
            ["routing_loss_first"] = 1.5, ["routing_loss_last"] = 0.75,
        };
        var input = Sample() with { Stages = [new StageSummary("mod", TimeSpan.FromSeconds(90), figures)] };
        var text = ReportWriter.Render(input);
        Assert.Contains("## Mixture-of-Depths (gamma-MoD)", text);
        Assert.Contains("Converted 2 of 4 decoder layers (1, 2), ARank over 64 calibration samples.", text);
        Assert.Contains("| 0 | 30.5 | no | – |", text);
        Assert.Contains("| 1 | 12.25 | yes | 25.0% |", text);
        Assert.Contains("| 2 | 14 | yes | 50.0% |", text);
        Assert.Contains("| Decoder FLOPs / test sample | 40.00 M | 26.00 M | -35.0% |", text);
        Assert.Contains("| Prefill latency (batch 64, 1 thread), ms | 20.00 | 15.00 | -25.0% |", text);
        Assert.Contains("| Accuracy (test, %) | 70.0 | 69.0 | -1.0 points |", text);
        Assert.Contains("| Routing loss (first -> last step) | 1.5000 | 0.7500 | -50.0% |", text);
        Assert.DoesNotContain("Mixture-of-Depths", ReportWriter.Render(Sample()));
    }
}
