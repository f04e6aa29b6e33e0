using System.Globalization;
using System.Text;

namespace Distill.Pipeline.Bench;

/// <summary>Writes a <see cref="CheckpointBenchResult"/> as <c>bench-checkpoint.csv</c> (one row per dtype) and
/// <c>bench-checkpoint.md</c> (the table and the notes).</summary>
public static class CheckpointBenchReport
{
    public const string CsvFile = "bench-checkpoint.csv";
    public const string MarkdownFile = "bench-checkpoint.md";

    public static readonly IReadOnlyList<string> Columns =
    [
        "size", "dtype", "params", "file_bytes", "write_s", "load_s", "peak_rss_bytes", "retained_rss_bytes",
        "batch", "tokens", "forward_ms", "forward_tokens_per_s", "achieved_gflops", "matmul_gflops", "threads",
    ];

    public static (string Csv, string Markdown) Write(string directory, CheckpointBenchResult result) =>
        BenchFiles.Write(directory, CsvFile, ToCsv(result), MarkdownFile, ToMarkdown(result));

    public static string ToCsv(CheckpointBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine(string.Join(",", Columns));
        foreach (var r in result.Rows)
            s.AppendLine(string.Join(",",
                result.Size, r.DType, I(r.Parameters), I(r.FileBytes), F(r.WriteSeconds), F(r.LoadSeconds),
                r.PeakRssBytes is { } p ? I(p) : "", r.RetainedRssBytes is { } k ? I(k) : "",
                I(r.Batch), I(r.Tokens), F(r.ForwardMs), F(r.TokensPerSecond), F(r.AchievedGflops), F(r.MatmulGflops), I(result.Threads)));
        return s.ToString();
    }

    public static string Table(CheckpointBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Hugging Face checkpoint '{result.Size}' ({result.Rows.FirstOrDefault()?.Parameters ?? 0:N0} parameters), torch threads {result.Threads}");
        s.AppendLine();
        s.AppendLine("| dtype | file | load s | peak RSS during load | retained RSS | forward tokens/s | GFLOP/s | matmul GFLOP/s | share of matmul |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in result.Rows)
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.DType} | {CheckpointBench.Human(r.FileBytes)} | {r.LoadSeconds:0.00} | {CheckpointBench.Human(r.PeakRssBytes)} | {CheckpointBench.Human(r.RetainedRssBytes)} | {r.TokensPerSecond:0.0} | {r.AchievedGflops:0.0} | {r.MatmulGflops:0.0} | {r.AchievedGflops / r.MatmulGflops:P0} |");
        return s.ToString();
    }

    public static string ToMarkdown(CheckpointBenchResult result)
    {
        var s = new StringBuilder("# distill bench models: Hugging Face checkpoint\n\n");
        s.Append(Table(result));
        s.AppendLine();
        foreach (var note in result.Notes) s.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        return s.ToString();
    }

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
}
