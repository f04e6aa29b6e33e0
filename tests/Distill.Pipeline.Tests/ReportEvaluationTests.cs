using Distill.Stages.Scoring;
using Distill.Pipeline.Reporting;
using Distill.Stages.Evaluation;
using SkiaSharp;

namespace Distill.Pipeline.Tests;

/// <summary>The report's evaluation sections and plots from a fake ledger, metrics and results.</summary>
public class ReportEvaluationTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static ReportInput Input()
    {
        var teacher = new EvaluationResult("teacher", 1_500_000, [new FamilyScore("colour", 9, 10, 0.2), new FamilyScore("existence", 16, 20, 0.5)])
        {
            ActivatedParameters = 1_500_000, FlopsPerSample = 45_600_000, DecoderFlopsPerSample = 40_000_000, FlopsPerToken = 1_140_000,
            Pope = [new PopeScore("random", 5, 5, 4, 1, 4, 0), new PopeScore("adversarial", 5, 5, 2, 3, 2, 2)],
            Chair = new ChairScore(10, 2, 30, 3, 1, 25, 20),
            Speed = new SpeedScore(8, 3, 16, 64, 4.5, 500, 20, 8000),
        };
        var mod = new EvaluationResult("mod", 400_000, [new FamilyScore("colour", 6, 10, 0.2), new FamilyScore("existence", 12, 20, 0.5)])
        {
            ActivatedParameters = 400_000, FlopsPerSample = 9_000_000, DecoderFlopsPerSample = 6_000_000, FlopsPerToken = 225_000,
            Pope = [new PopeScore("random", 5, 5, 5, 5, 0, 0)],
            Chair = new ChairScore(10, 5, 20, 8, 0, 25, 10),
            Speed = new SpeedScore(8, 3, 16, 64, 1.25, 1500, 6.5, 30000) { ModKeepRatio = 0.75 },
        };
        var metrics = new List<MetricPoint>();
        for (int i = 1; i <= 30; i++) metrics.Add(new MetricPoint(T0.AddSeconds(i), "teacher", "train", i, "loss", 4.0 / Math.Sqrt(i)));
        metrics.Add(new MetricPoint(T0.AddSeconds(31), "teacher", "val", 1, "loss", 0.9));
        for (int i = 0; i <= 10; i++) metrics.Add(new MetricPoint(T0.AddSeconds(40 + i), "mod", "distill", i, "loss", 2.0 - 0.1 * i));
        return new ReportInput("run-1", T0, TimeSpan.FromMinutes(3), [teacher, mod],
        [
            new StageSummary("teacher", TimeSpan.FromSeconds(100), new Dictionary<string, double> { ["params"] = 1_500_000 }),
            new StageSummary("mod", TimeSpan.FromSeconds(42.5), new Dictionary<string, double>
            {
                ["arank.layer0"] = 10, ["arank.layer1"] = 5.5, ["arank.layer2"] = 7,
                ["converted.layer0"] = 0, ["converted.layer1"] = 1, ["converted.layer2"] = 0, ["converted_layers"] = 1,
            }),
            new StageSummary("eval", TimeSpan.FromSeconds(9.24), new Dictionary<string, double> { ["models"] = 2, ["teacher_overall"] = 0.83, ["mod_chair_i"] = 0.4 }),
        ])
        { Metrics = metrics };
    }

    private static string[] Lines(string text) => text.Split('\n').Select(l => l.TrimEnd('\r')).ToArray();

    private static int Find(string[] lines, string line)
    {
        var at = Array.IndexOf(lines, line);
        Assert.True(at >= 0, $"'{line}' not in:\n{string.Join("\n", lines)}");
        return at;
    }

    [Fact]
    public void Pope_table_has_one_row_per_model_and_setting()
    {
        var lines = Lines(ReportWriter.Render(Input()));
        var at = Find(lines, "| Model | Setting | Probes | Accuracy | Precision | Recall | F1 | Yes-ratio | Neither yes nor no |");
        // random: TP 4 FP 1 TN 4 of 5+5 -> accuracy 80, precision 4/5, recall 4/5, F1 80, yes-ratio 5/10.
        Assert.Equal("| teacher | random | 10 | 80.0 | 80.0 | 80.0 | 80.0 | 50.0 | 0 |", lines[at + 2]);
        // adversarial: TP 2 FP 3 TN 2 -> accuracy 40, precision 40, recall 40, F1 40, yes-ratio 50, 2 unanswered.
        Assert.Equal("| teacher | adversarial | 10 | 40.0 | 40.0 | 40.0 | 40.0 | 50.0 | 2 |", lines[at + 3]);
        // always yes: precision 50, recall 100, F1 2*0.5*1/1.5 = 66.7, yes-ratio 100.
        Assert.Equal("| mod | random | 10 | 50.0 | 50.0 | 100.0 | 66.7 | 100.0 | 0 |", lines[at + 4]);
    }

    [Fact]
    public void Chair_table_lists_chair_i_chair_s_and_recall()
    {
        var lines = Lines(ReportWriter.Render(Input()));
        var at = Find(lines, "| Model | Captions | Mentions | CHAIR_i | CHAIR_s | Object recall | Captions without objects |");
        Assert.Equal("| teacher | 10 | 30 | 10.0 | 20.0 | 80.0 | 1 |", lines[at + 2]);
        Assert.Equal("| mod | 10 | 20 | 40.0 | 50.0 | 40.0 | 0 |", lines[at + 3]);
    }

    [Fact]
    public void Size_and_cost_table_has_flops_per_token_and_measured_speed_and_the_mod_keep_ratio()
    {
        var input = Input();
        var text = ReportWriter.Render(input);
        var lines = Lines(text);
        var at = Find(lines, "| Model | Params | Activated / token | FLOPs / token | Forward FLOPs / sample | Decoder FLOPs / sample | Tokens/s (batch 1) | Tokens/s (batch 64) | Prefill ms (batch 1) | Prefill ms (batch 64) |");
        Assert.Equal("| teacher | 1.50M | 1.50M | 1.14 M | 45.60 M | 40.00 M | 500 | 8000 | 4.50 | 20.00 |", lines[at + 2]);
        Assert.Equal("| mod | 400,000 | 400,000 | 225.00 K | 9.00 M | 6.00 M | 1500 | 30000 | 1.25 | 6.50 |", lines[at + 3]);
        Assert.Contains("the first 8 test prompts, 16 greedy tokens each", text);
        Assert.Contains("mod: the MoD layers processed 75.0% of the image tokens", text);
    }

    [Fact]
    public void ARank_table_reads_the_per_layer_figures_of_the_mod_stage()
    {
        var text = ReportWriter.Render(Input());
        var lines = Lines(text);
        var at = Find(lines, "| Layer | ARank | converted |");
        Assert.Equal(["| 0 | 10 | 0 |", "| 1 | 5.5 | 1 |", "| 2 | 7 | 0 |"], lines[(at + 2)..(at + 5)]);
        Assert.Contains("Conversion: converted_layers 1.", text);
        Assert.Contains("From stage `mod`", text);
        Assert.DoesNotContain("## MoD: ARank", ReportWriter.Render(Input() with { Stages = [] }));
    }

    [Fact]
    public void Stage_table_keeps_wall_times_and_leaves_per_model_eval_figures_to_the_tables()
    {
        var lines = Lines(ReportWriter.Render(Input()));
        Find(lines, "| eval | 9.2s | models 2 |");
        Find(lines, "| teacher | 1m 40s | params 1.5e6 |");
        Assert.Contains(lines, l => l.StartsWith("| mod | 42.5s | arank.layer0 10, ", StringComparison.Ordinal));
    }

    [Fact]
    public void Writes_png_plots_under_report_and_links_them()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "report.md");
        ReportWriter.Write(path, Input());
        var text = File.ReadAllText(path);
        string[] files = ["accuracy.png", "latency-vs-flops.png", "loss-teacher.png", "loss-mod.png", "arank.png"];
        Assert.Equal(files.Order(StringComparer.Ordinal),
            Directory.GetFiles(Path.Combine(t.Path, "report")).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        foreach (var file in files)
        {
            Assert.Contains($"](report/{file})", text);
            var bytes = File.ReadAllBytes(Path.Combine(t.Path, "report", file));
            Assert.True(bytes.Length > 10_000, $"{file}: {bytes.Length} bytes");
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, bytes[..8]);
            using var bitmap = SKBitmap.Decode(bytes);
            Assert.Equal((900, 500), (bitmap.Width, bitmap.Height));
            // The title is drawn in dark text on white above the data area: text rendered means dark pixels there.
            int dark = 0;
            for (int y = 0; y < 35; y++)
                for (int x = 0; x < bitmap.Width; x++)
                {
                    var c = bitmap.GetPixel(x, y);
                    if (c.Red + c.Green + c.Blue < 200) dark++;
                }
            Assert.True(dark > 200, $"{file}: {dark} dark pixels in the title band");
        }
    }

    [Fact]
    public void A_plot_that_cannot_be_written_is_reported_and_the_rest_still_drawn()
    {
        using var t = new TempDir();
        Directory.CreateDirectory(Path.Combine(t.Path, "report", "accuracy.png")); // a folder where the PNG goes
        ReportWriter.Write(Path.Combine(t.Path, "report.md"), Input());
        var text = File.ReadAllText(Path.Combine(t.Path, "report.md"));
        Assert.Contains("_Plot not drawn (Accuracy per family and model): ", text);
        Assert.DoesNotContain("](report/accuracy.png)", text);
        Assert.Contains("](report/latency-vs-flops.png)", text);
        Assert.True(File.Exists(Path.Combine(t.Path, "report", "arank.png")));
    }

    [Fact]
    public void Without_results_or_metrics_no_plot_is_drawn()
    {
        using var t = new TempDir();
        ReportWriter.Write(Path.Combine(t.Path, "report.md"), new ReportInput("r", T0, TimeSpan.Zero, [], []));
        Assert.Empty(Directory.GetFiles(Path.Combine(t.Path, "report")));
        Assert.DoesNotContain("![", File.ReadAllText(Path.Combine(t.Path, "report.md")));
    }
}
