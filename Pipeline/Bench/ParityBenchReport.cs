using System.Globalization;
using System.Text;

namespace Distill.Pipeline.Bench;

/// <summary>Writes a <see cref="ParityBenchResult"/> as <c>bench-parity.csv</c> (one row per implementation) and
/// <c>bench-parity.md</c>.</summary>
public static class ParityBenchReport
{
    public const string CsvFile = "bench-parity.csv";
    public const string MarkdownFile = "bench-parity.md";

    public static readonly IReadOnlyList<string> Columns =
        ["implementation", "version", "size", "params", "batch", "tokens", "threads", "load_s", "forward_ms", "forward_tokens_per_s", "achieved_gflops", "matmul_gflops", "speedup_vs_transformers", "max_abs_logit_diff"];

    public static (string Csv, string Markdown) Write(string directory, ParityBenchResult result) =>
        BenchFiles.Write(directory, CsvFile, ToCsv(result), MarkdownFile, ToMarkdown(result));

    public static string ToCsv(ParityBenchResult r)
    {
        var s = new StringBuilder();
        s.AppendLine(string.Join(",", Columns));
        s.AppendLine(string.Join(",", "distill", "", r.Size, I(r.Parameters), I(r.Batch), I(r.Tokens), I(r.Threads), F(r.DistillLoadSeconds),
            F(r.DistillForwardSeconds * 1000), F(r.DistillTokensPerSecond), F(r.DistillGflops), F(r.DistillMatmulGflops), r.Speedup is { } x ? F(x) : "", ""));
        if (r.Reference is { } h)
            s.AppendLine(string.Join(",", "transformers", $"{h.Transformers} torch {h.Torch}", r.Size, I(r.Parameters), I(r.Batch), I(r.Tokens), I(h.Threads),
                F(h.LoadSeconds), F(h.ForwardSeconds * 1000), F(r.Batch * r.Tokens / h.ForwardSeconds), F(r.ReferenceGflops!.Value), F(h.MatmulGflops), "1", F(h.MaxAbsLogitDiff)));
        return s.ToString();
    }

    public static string Table(ParityBenchResult r)
    {
        var s = new StringBuilder();
        s.AppendLine(CultureInfo.InvariantCulture, $"Forward of a random Llama '{r.Size}' ({r.Parameters:N0} parameters), batch {r.Batch} x {r.Tokens} tokens, {r.Threads} torch threads");
        s.AppendLine();
        s.AppendLine("| implementation | load s | forward ms | tokens/s | GFLOP/s | matmul GFLOP/s | share of matmul |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        s.AppendLine(CultureInfo.InvariantCulture, $"| Distill | {r.DistillLoadSeconds:0.00} | {r.DistillForwardSeconds * 1000:0.0} | {r.DistillTokensPerSecond:0.0} | {r.DistillGflops:0.0} | {r.DistillMatmulGflops:0.0} | {r.DistillGflops / r.DistillMatmulGflops:P0} |");
        if (r.Reference is { } h)
        {
            var gflops = r.ReferenceGflops!.Value;
            s.AppendLine(CultureInfo.InvariantCulture, $"| transformers {h.Transformers} (torch {h.Torch}) | {h.LoadSeconds:0.00} | {h.ForwardSeconds * 1000:0.0} | {r.Batch * r.Tokens / h.ForwardSeconds:0.0} | {gflops:0.0} | {h.MatmulGflops:0.0} | {gflops / h.MatmulGflops:P0} |");
            s.AppendLine();
            s.AppendLine(CultureInfo.InvariantCulture,
                $"Distill / transformers speed: {r.Speedup:0.00}x ({(r.Speedup >= 1 ? "Distill is not slower" : "Distill is SLOWER")}); max |logit difference| {h.MaxAbsLogitDiff:0.###e+0}");
        }
        else
        {
            s.AppendLine();
            s.AppendLine("transformers: " + r.ReferenceStatus);
        }
        return s.ToString();
    }

    public static string ToMarkdown(ParityBenchResult r) =>
        "# distill bench parity\n\n" + Table(r) + "\n" +
        "- Both sides load the same model.safetensors + config.json (written by Distill to a temporary folder, deleted afterwards) " +
        "and run the same token ids; forward = logits at every position, no_grad, no KV cache; the median of the timed passes after one warm-up. " +
        "transformers runs with AutoModelForCausalLM, float32, eager attention, torch.set_num_threads equal to Distill's thread count.\n" +
        "- Load times include building the model (transformers: from_pretrained, Distill: Checkpoint.LoadCausalLm).\n" +
        "- Matmul: a [2048, 2048] float32 product on each side (median of 5 after one warm-up): what each side's BLAS reaches. The speed ratio compares the two " +
        "installations as they are; 'share of matmul' compares how close each comes to its own BLAS (a PyTorch with a generic BLAS is slow everywhere).\n" +
        $"- transformers: {r.ReferenceStatus}\n";

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);

    private static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
}
