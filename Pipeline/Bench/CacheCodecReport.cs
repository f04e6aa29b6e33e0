using System.Globalization;
using System.Text;

namespace Distill.Pipeline.Bench;

/// <summary>The rows, table and notes of <see cref="CacheCodecBench"/> in <c>bench pipeline</c>'s report: CSV rows of
/// the cache section with subjects <c>vocab{V}</c> (the distribution) and <c>vocab{V}-k{K}[-setting]</c>
/// (<see cref="CacheCodecRow.Subject"/>).</summary>
public static class CacheCodecReport
{
    public delegate void CsvLine(string subject, string metric, double value, string unit);

    public static void Csv(CacheCodecResult result, CsvLine line)
    {
        ArgumentNullException.ThrowIfNull(result);
        var o = result.Options;
        var vocab = string.Create(CultureInfo.InvariantCulture, $"vocab{o.VocabSize}");
        line(vocab, "tokens", o.Tokens, "");
        line(vocab, "teacher_entropy", result.TeacherEntropy, "nats");
        line(vocab, "teacher_top1", result.TeacherTop1, "");
        line(vocab, "student_kl", result.StudentKl, "nats");
        line(vocab, "topk_id_entropy", result.TopKIdBits, "bits");
        foreach (var r in result.Rows)
        {
            line(r.Subject, "bytes_per_token", r.BytesPerToken, "bytes/token");
            line(r.Subject, "grad_cosine", r.GradCosine, "");
            line(r.Subject, "grad_cosine_token_min", r.TokenMinCosine, "");
            line(r.Subject, "grad_cosine_token_mean", r.TokenMeanCosine, "");
            line(r.Subject, "record_bytes_per_token", r.RecordBytes, "bytes/token");
            line(r.Subject, "tail_mass", r.TailMass, "");
        }
    }

    /// <summary>One line on the distribution measured.</summary>
    public static string Summary(CacheCodecResult result)
    {
        var o = result.Options;
        return string.Create(CultureInfo.InvariantCulture,
            $"Vocabulary {o.VocabSize}, {o.Tokens} tokens; teacher mean entropy {result.TeacherEntropy:0.00} nats, mean top-1 probability " +
            $"{result.TeacherTop1:0.00}; student KL(p_T || q_S) {result.StudentKl:0.00} nats; ids in the top {o.TopKs.Max()}: " +
            $"{result.TopKIdBits:0.0} bits of plug-in entropy each. Codec: {o.ExactCount} float16 log-probs, then {o.DeltaBits}-bit steps of at least " +
            $"{o.BaseStep:0.######} nats; ids at ceil(log2 {o.VocabSize}) = {new Distill.Stages.Arrow.TopKCodec(o.Codec(o.TopKs.Max())).IdBits} bits.");
    }

    public static string Table(CacheCodecResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("| K | setting | bytes/token (part) | payload bytes/token | grad cosine (whole) | per-token min | per-token mean | teacher mass outside top-K |");
        s.AppendLine("|---:|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in result.Rows)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.TopK} | {r.Setting.Name()} | {r.BytesPerToken:0.0} | {r.RecordBytes} | {r.GradCosine:0.00000} | {r.TokenMinCosine:0.0000} | " +
                $"{r.TokenMeanCosine:0.0000} | {r.TailMass:0.0000} |"));
        return s.ToString();
    }

    public static IReadOnlyList<string> Notes(CacheCodecResult result)
    {
        var o = result.Options;
        return
        [
            string.Create(CultureInfo.InvariantCulture,
                $"(f) A synthetic teacher of Qwen2-0.5B's LM head shape: logits = {o.LogitScale:0.##} x (h . w_j) - {o.ZipfExponent:0.##} ln(j + 1), " +
                $"h ~ N(0, I_{o.Hidden}), w_j ~ N(0, {o.HeadStd:0.###}^2), {o.VocabSize} ids in frequency order (the Zipf term stands for a trained " +
                $"head's context-free log unigram frequency; the scale for a trained head's, giving the entropy in the summary). Student = teacher " +
                $"+ {o.StudentNoise:0.##} x {o.LogitScale:0.##} x (h . w'_j) with an independent head w'. Seed = distill.seed."),
            "(f) Gradients w.r.t. the student logits: dense = softmax(z_S) - softmax(z_T) (the exact KL(p_T || q_S) over the vocabulary); " +
            "sparse = autograd of KdObjective.ForwardKl (the training loss: top-K + tail buckets, T = 1) on the decoded part's ids, log-probs and " +
            "tail. Grad cosine (whole) = over the flattened [tokens, V] gradients; per-token min and mean of each token's cosine. float16 and " +
            "compact decode to the same values with and without zstd, so their cosines agree pairwise.",
            "(f) Bytes/token = the Arrow IPC stream (schema and framing included) holding only the teacher-output columns of every token, " +
            "divided by the tokens: float16 = teacher/v1's list<int32> ids, list<float16> log-probs, list<float32> tail in rows of " +
            string.Create(CultureInfo.InvariantCulture, $"{o.PositionsPerRow} positions; compact = topk-compact/1 (TopKCodec records in two fixed_size_binary columns); ") +
            "-zstd = Arrow's zstd IPC body compression. Payload = the records alone before compression. The CSV's vocab{V}-k{K} rows are compact-zstd.",
        ];
    }
}
