using Distill.Pipeline.Progress;
using Distill.Stages.Flow;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Tests;

public class ConsoleProgressTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static string[] Lines(StringWriter w) => w.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToArray();

    [Fact]
    public void Formats_the_line_with_rate_loss_and_eta()
    {
        var line = ConsoleProgress.Format(new StageProgress("mimic", "distill", 120, 400, 85.31, 1.23449), TimeSpan.FromSeconds(32));
        Assert.Equal("[mimic] distill  120/400  85.3 samples/s  loss 1.2345  ETA 0:32", line);
        Assert.Equal("[teacher] pretrain  7  0.0 samples/s  loss -",
            ConsoleProgress.Format(new StageProgress("teacher", "pretrain", 7, 0, 0, double.NaN), null));
    }

    [Theory]
    [InlineData(null, "--:--")]
    [InlineData(0.2, "0:01")]
    [InlineData(100.0, "1:40")]
    [InlineData(3723.0, "1:02:03")]
    public void Formats_eta(double? seconds, string expected) =>
        Assert.Equal(expected, ConsoleProgress.FormatEta(seconds is null ? null : TimeSpan.FromSeconds(seconds.Value)));

    [Fact]
    public void Throttles_per_phase_prints_final_step_and_computes_eta()
    {
        var clock = new ManualTime(T0);
        var w = new StringWriter();
        var p = new ConsoleProgress(null, w, colour: false, clock);

        p.Report(new StageProgress("mimic", "distill", 10, 120, 50, 2.0));   // first: printed, ETA unknown
        p.Report(new StageProgress("mimic", "distill", 11, 120, 50, 2.0));   // too soon
        p.Report(new StageProgress("teacher", "pretrain", 1, 5, 9, 3.0));    // other phase: printed
        clock.Advance(TimeSpan.FromSeconds(1));
        p.Report(new StageProgress("mimic", "distill", 15, 120, 50, 1.9));   // too soon
        clock.Advance(TimeSpan.FromSeconds(9));
        p.Report(new StageProgress("mimic", "distill", 20, 120, 50, 1.5));   // 10 steps in 10 s, 100 left -> 1:40
        p.Report(new StageProgress("mimic", "distill", 120, 120, 50, 1.0));  // final: printed although not due
        p.Report(new StageProgress("mimic", "distill", 120, 120, 50, 1.0));  // final again: not repeated

        Assert.Equal(
        [
            "[mimic] distill  10/120  50.0 samples/s  loss 2.0000  ETA --:--",
            "[teacher] pretrain  1/5  9.0 samples/s  loss 3.0000  ETA --:--",
            "[mimic] distill  20/120  50.0 samples/s  loss 1.5000  ETA 1:40",
            "[mimic] distill  120/120  50.0 samples/s  loss 1.0000  ETA 0:00",
        ], Lines(w));
    }

    [Fact]
    public void Forwards_every_update_to_the_metrics_log()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "metrics.csv");
        using (var metrics = new MetricsLog(path))
        {
            var p = new ConsoleProgress(metrics, new StringWriter(), colour: false, new ManualTime(T0));
            for (var i = 1; i <= 5; i++) p.Report(new StageProgress("mimic", "distill", i, 100, 10 * i, 1.0 / i));
        }
        var rows = File.ReadAllLines(path).Skip(1).ToArray();
        Assert.Equal(10, rows.Length);
        Assert.EndsWith(",mimic,distill,5,samples_per_s,50", rows[8]);
        Assert.EndsWith(",mimic,distill,5,loss,0.2", rows[9]);
    }

    [Fact]
    public void Is_thread_safe_and_colour_mode_works()
    {
        var w = new StringWriter();
        var p = new ConsoleProgress(null, w, colour: true, new ManualTime(T0), TimeSpan.Zero);
        Parallel.For(0, 4, s =>
        {
            for (var i = 1; i <= 50; i++) p.Report(new StageProgress($"s{s}", "x", i, 50, 1, 0.5));
        });
        var lines = Lines(w);
        Assert.Equal(200, lines.Length);
        Assert.All(lines, l => Assert.Contains("samples/s", l));
        Assert.Contains(lines, l => l.Contains("[s3]"));
    }
}
