using System.Globalization;
using System.Text;
using Distill.Models.Accounting;

namespace Distill.Pipeline.Bench;

/// <summary>Writes a <see cref="ModelBenchResult"/> as <c>bench-models.csv</c> (one row per model, every figure) and
/// <c>bench-models.md</c> (tables and notes).</summary>
public static class ModelBenchReport
{
    public const string CsvFile = "bench-models.csv";
    public const string MarkdownFile = "bench-models.md";

    /// <summary>The CSV columns, in order.</summary>
    public static readonly IReadOnlyList<string> Columns =
    [
        "model", "kind", "mod_skip", "routing", "batch", "image_tokens", "text_tokens",
        "params_total", "params_activated",
        "flops_per_sample", "decoder_flops_per_sample", "flops_per_token", "decoder_flops_per_token",
        "forward_ms", "forward_tokens_per_s", "achieved_gflops", "prefill_ms", "decode_ms_per_token",
        "moe_overhead", "mod_forward_speedup", "mod_prefill_speedup", "mod_decode_speedup",
        "mod_flop_reduction", "mod_decoder_flop_reduction",
        "prefill_batch_ms", "mod_prefill_batch_speedup",
    ];

    /// <summary>Writes both files into <paramref name="directory"/> (created); returns their paths.</summary>
    public static (string Csv, string Markdown) Write(string directory, ModelBenchResult result) =>
        BenchFiles.Write(directory, CsvFile, ToCsv(result), MarkdownFile, ToMarkdown(result));

    public static string ToCsv(ModelBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine(string.Join(",", Columns));
        var w = result.Workload;
        foreach (var r in result.Rows)
        {
            string[] cells =
            [
                r.Model, r.Kind, Opt(r.ModSkip), r.Routing, I(w.Batch), I(w.ImageTokens), I(w.TextTokens),
                I(r.ParamsTotal), I(r.ParamsActivated),
                I(r.FlopsPerSample), I(r.DecoderFlopsPerSample), R(r.FlopsPerToken), R(r.DecoderFlopsPerToken),
                F(r.ForwardMs), F(r.ForwardTokensPerSecond), F(r.AchievedGflops), F(r.PrefillMs), F(r.DecodeMsPerToken),
                Opt(r.MoeOverhead), Opt(r.ModForwardSpeedup), Opt(r.ModPrefillSpeedup), Opt(r.ModDecodeSpeedup),
                Opt(r.ModFlopReduction), Opt(r.ModDecoderFlopReduction),
                F(r.BatchPrefillMs), Opt(r.ModBatchPrefillSpeedup),
            ];
            s.AppendLine(string.Join(",", cells));
        }
        return s.ToString();
    }

    /// <summary>The main table (one row per model) alone, as printed on the console.</summary>
    public static string Table(ModelBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"| model | routing | params total | params activated | FLOPs/sample (decoder) | FLOPs/token | forward tokens/s | GFLOP/s | prefill ms | prefill ms (batch {result.Workload.Batch}) | decode ms/token |");
        s.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in result.Rows)
        {
            s.AppendLine(CultureInfo.InvariantCulture,
                $"| {r.Model} | {r.Routing} | {Count(r.ParamsTotal)} | {Count(r.ParamsActivated)} | " +
                $"{FlopBreakdown.Human(r.FlopsPerSample)} ({FlopBreakdown.Human(r.DecoderFlopsPerSample)}) | " +
                $"{FlopBreakdown.Human((long)Math.Round(r.FlopsPerToken))} | {r.ForwardTokensPerSecond:0} | {r.AchievedGflops:0.00} | " +
                $"{r.PrefillMs:0.000} | {r.BatchPrefillMs:0.000} | {r.DecodeMsPerToken:0.000} |");
        }
        return s.ToString();
    }

    /// <summary>The comparison tables: the MoE student against the dense student, and each MoD student against skip 0.</summary>
    public static string Comparisons(ModelBenchResult result)
    {
        var s = new StringBuilder();
        var dense = result.Rows.FirstOrDefault(d => d.Kind == "dense");
        var moe = result.Rows.Where(r => r.MoeOverhead is not null).ToList();
        if (dense is not null && moe.Count > 0)
        {
            s.AppendLine("| MoE vs student-dense | forward time | forward FLOPs | overhead | prefill time | decode time | activated params |");
            s.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var r in moe)
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Model} | x{r.ForwardMs / dense.ForwardMs:0.00} | x{(double)r.FlopsPerSample / dense.FlopsPerSample:0.00} | " +
                    $"{r.MoeOverhead:0.00} | x{r.PrefillMs / dense.PrefillMs:0.00} | x{r.DecodeMsPerToken / dense.DecodeMsPerToken:0.00} | " +
                    $"x{(double)r.ParamsActivated / dense.ParamsActivated:0.00} |");
            s.AppendLine();
        }
        var mod = result.Rows.Where(r => r.ModForwardSpeedup is not null).ToList();
        if (mod.Count > 0)
        {
            s.AppendLine($"| MoD vs {ModelBench.ModName(0)} | skip | forward speed-up | forward FLOP reduction | prefill speed-up | batched prefill speed-up | decode speed-up | decoder FLOP reduction |");
            s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var r in mod)
                s.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Model} | {r.ModSkip:0.00} | {r.ModForwardSpeedup:0.00} | {r.ModFlopReduction:0.00} | " +
                    $"{r.ModPrefillSpeedup:0.00} | {r.ModBatchPrefillSpeedup:0.00} | {r.ModDecodeSpeedup:0.00} | {r.ModDecoderFlopReduction:0.00} |");
        }
        return s.ToString();
    }

    public static string ToMarkdown(ModelBenchResult result)
    {
        var w = result.Workload;
        var s = new StringBuilder();
        s.AppendLine("# Model benchmark");
        s.AppendLine();
        s.AppendLine(CultureInfo.InvariantCulture,
            $"{w.ImageTokens} image + {w.TextTokens} text tokens per sample; forward and batched prefill batch {w.Batch}; prefill and decode batch 1; " +
            $"median of {result.Repeats} repeat(s) after a warm-up; {result.Threads} torch thread(s).");
        s.AppendLine();
        s.Append(Table(result));
        s.AppendLine();
        s.AppendLine("## MoE overhead and MoD speed-up");
        s.AppendLine();
        s.AppendLine("MoE: times, FLOPs and activated parameters as multiples of the dense student's; overhead = forward time " +
                     "multiple / forward FLOP multiple (1 = the MoE costs what its FLOPs say). MoD: speed-up = time at skip 0 / " +
                     "time at the row's skip ratio; the FLOP reduction is the speed-up a purely FLOP-bound model would show.");
        s.AppendLine();
        s.Append(Comparisons(result));
        s.AppendLine();
        s.AppendLine("## Notes");
        s.AppendLine();
        foreach (var note in result.Notes) s.AppendLine("- " + note);
        return s.ToString();
    }

    /// <summary>"1.23 M", "456.7 K", "999".</summary>
    public static string Count(long n) =>
        n >= 1_000_000 ? (n / 1e6).ToString("0.00", CultureInfo.InvariantCulture) + " M"
        : n >= 1_000 ? (n / 1e3).ToString("0.0", CultureInfo.InvariantCulture) + " K"
        : n.ToString(CultureInfo.InvariantCulture);

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
    private static string R(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    private static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
    private static string Opt(double? v) => v is { } x ? F(x) : "";
}
