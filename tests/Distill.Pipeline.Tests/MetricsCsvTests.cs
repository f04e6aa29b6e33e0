using Distill.Pipeline.Reporting;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Tests;

public class MetricsCsvTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 4, 5, 6, 7, 890, TimeSpan.Zero);

    [Fact]
    public void Reads_back_what_the_metrics_log_writes_including_quoted_fields_and_nan()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "metrics.csv");
        using (var log = new MetricsLog(path))
        {
            log.Append(T0, "mimic", "distill", 12, "loss", 1.25);
            log.Append(T0.AddSeconds(1), "eval", "teacher, \"greedy\"", 3, "loss", double.NaN);
            log.Append(T0.AddSeconds(2), "mimic", "distill", 13, "loss", -0.5e-7);
        }
        var points = MetricsCsv.Read(path);
        Assert.Equal(3, points.Count);
        Assert.Equal(new MetricPoint(T0, "mimic", "distill", 12, "loss", 1.25), points[0]);
        Assert.Equal("teacher, \"greedy\"", points[1].Phase);
        Assert.True(double.IsNaN(points[1].Value));
        Assert.Equal(-0.5e-7, points[2].Value);
        Assert.Equal(T0.AddSeconds(2), points[2].Time);
        Assert.Empty(MetricsCsv.Read(Path.Combine(t.Path, "none.csv")));
    }

    [Fact]
    public void A_torn_last_row_is_ignored_and_a_bad_row_names_the_file_and_line()
    {
        const string rows = MetricsLog.Header + "\n2025-01-01T00:00:00.000Z,teacher,train,1,loss,2.5\n";
        Assert.Single(MetricsCsv.Parse(rows + "2025-01-01T00:00:01.000Z,teacher,tr", "m.csv"));
        var e = Assert.Throws<InvalidDataException>(() =>
            MetricsCsv.Parse(rows + "2025-01-01T00:00:01.000Z,teacher,train,x,loss,1\n", "m.csv"));
        Assert.Contains("m.csv, line 3", e.Message);
        var header = Assert.Throws<InvalidDataException>(() => MetricsCsv.Parse("a,b\n", "m.csv"));
        Assert.Contains("m.csv, line 1", header.Message);
    }
}
