using System.Globalization;
using System.Text;

namespace Distill.Pipeline.Bench;

/// <summary>Writes a <see cref="DataBenchResult"/> as <c>bench-data.csv</c> and <c>bench-data.md</c>.</summary>
public static class DataBenchReport
{
    public const string CsvFile = "bench-data.csv";
    public const string MarkdownFile = "bench-data.md";

    public static readonly IReadOnlyList<string> Columns = ["section", "loaders", "samples", "seconds", "samples_per_s", "peak_rss_mib", "rss_before_mib"];

    public static (string Csv, string Markdown) Write(string directory, DataBenchResult result) =>
        BenchFiles.Write(directory, CsvFile, ToCsv(result), MarkdownFile, "# bench data\n\n" + Table(result));

    public static string ToCsv(DataBenchResult r)
    {
        var s = new StringBuilder();
        s.AppendLine(string.Join(",", Columns));
        foreach (var row in r.Loaders)
            s.AppendLine(string.Join(",", "loader", I(row.Loaders), I(row.Samples), F(row.Seconds), F(row.SamplesPerSecond), Mib(row.PeakRssBytes), ""));
        s.AppendLine(string.Join(",", "stream", "1", I(r.Streamed), F(r.StreamSeconds), F(r.Streamed / r.StreamSeconds), Mib(r.PeakDuringStreamBytes), Mib(r.RssBeforeStreamBytes)));
        if (r.Teacher is { } t) s.AppendLine(string.Join(",", "teacher-bound", "", "", "", F(t.SamplesPerSecond), "", ""));
        return s.ToString();
    }

    public static string Table(DataBenchResult r)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Loader path on {r.Photos} JPEG photos of {DataBench.Width}x{DataBench.Height}: read, decode, pad, CLIP-336 processor, ChatML + tokenizer '{r.Tokenizer}'");
        s.AppendLine();
        s.AppendLine("| loaders | samples | seconds | samples/s | peak RSS MiB |");
        s.AppendLine("|---:|---:|---:|---:|---:|");
        foreach (var row in r.Loaders)
            s.AppendLine(CultureInfo.InvariantCulture, $"| {row.Loaders} | {row.Samples} | {row.Seconds:0.00} | {row.SamplesPerSecond:0.0} | {Mib(row.PeakRssBytes)} |");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"Reader streaming {r.Streamed:N0} samples: {r.StreamSeconds:0.00} s ({r.Streamed / r.StreamSeconds:N0} samples/s), RSS {Mib(r.RssBeforeStreamBytes)} MiB before, peak {Mib(r.PeakDuringStreamBytes)} MiB during.");
        s.AppendLine();
        if (r.Teacher is { } t)
        {
            var fastest = r.Loaders.Max(x => x.SamplesPerSecond);
            s.AppendLine(CultureInfo.InvariantCulture,
                $"Teacher {t.Model} ({t.Parameters / 1e9:0.00}B parameters) on the same samples ({t.TextTokens} text tokens + its image tokens): {t.FlopsPerSample / 1e12:0.00} TFLOP per forward; at the {t.Gflops:0} GFLOP/s float32 matmul rate measured here, at most {t.SamplesPerSecond:0.000} samples/s, {fastest / t.SamplesPerSecond:N0}x slower than the fastest loader row: the loaders are not the bottleneck.");
        }
        return s.ToString();
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);
    private static string Mib(long? bytes) => bytes is { } b ? (b / 1048576.0).ToString("0.0", CultureInfo.InvariantCulture) : "";
}
