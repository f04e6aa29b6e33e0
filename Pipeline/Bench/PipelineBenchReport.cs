using System.Globalization;
using System.Text;

namespace Distill.Pipeline.Bench;

/// <summary>Writes a <see cref="PipelineBenchResult"/> as <c>pipeline.csv</c> (long format: one figure per line,
/// <c>section,subject,metric,value,unit</c>) and <c>pipeline.md</c> (the machine, one table per section, notes). A part
/// left out by <c>--sections</c> has no rows and a "not measured" line instead of its table.</summary>
public static class PipelineBenchReport
{
    public const string CsvFile = "pipeline.csv";
    public const string MarkdownFile = "pipeline.md";
    public const string Header = "section,subject,metric,value,unit";

    /// <summary>The CSV sections, in order.</summary>
    public static readonly IReadOnlyList<string> Sections = ["machine", "scaling", "utilisation", "replay", "cache", "overlap", "memory"];

    /// <summary>Writes both files into <paramref name="directory"/> (created); returns their paths.</summary>
    public static (string Csv, string Markdown) Write(string directory, PipelineBenchResult result) =>
        BenchFiles.Write(directory, CsvFile, ToCsv(result), MarkdownFile, ToMarkdown(result));

    public static string ToCsv(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine(Header);
        void Line(string section, string subject, string metric, double value, string unit = "") =>
            s.AppendLine(string.Join(",", section, subject, metric, F(value), unit));

        var m = result.Machine;
        Line("machine", "machine", "cores", m.Cores);
        Line("machine", "machine", "torch_threads", m.TorchThreads);
        Line("machine", "machine", "repeats", result.Repeats);

        foreach (var r in result.Scaling)
        {
            var subject = $"workers={r.Workers}";
            Line("scaling", subject, "workers", r.Workers);
            Line("scaling", subject, "credit_window", r.CreditWindow);
            Line("scaling", subject, "shards", r.Shards);
            Line("scaling", subject, "latency", r.LatencyMs, "ms");
            Line("scaling", subject, "throughput", r.ShardsPerSecond, "shards/s");
            Line("scaling", subject, "ideal", r.IdealShardsPerSecond, "shards/s");
            Line("scaling", subject, "efficiency", r.Efficiency);
            Line("scaling", subject, "trainer_cap", r.TrainerCapShardsPerSecond, "shards/s");
            Line("scaling", subject, "stage_wall", r.StageSeconds, "s");
        }

        foreach (var u in result.Utilisation)
        {
            Line("utilisation", u.Stage, "trainer_busy_fraction", u.BusyFraction);
            Line("utilisation", u.Stage, "stream", u.StreamSeconds, "s");
            Line("utilisation", u.Stage, "consume", u.ConsumeSeconds, "s");
            Line("utilisation", u.Stage, "complete", u.CompleteSeconds, "s");
            Line("utilisation", u.Stage, "teacher_step", u.TeacherStepMs, "ms/shard");
            Line("utilisation", u.Stage, "teacher_arrow_encode", u.TeacherEncodeMs, "ms/shard");
            Line("utilisation", u.Stage, "teacher_arrow_encode_share", u.TeacherEncodeShare);
            Line("utilisation", u.Stage, "teacher_arrow_decode", u.TeacherDecodeMs, "ms/shard");
            Line("utilisation", u.Stage, "teacher_arrow_decode_share", u.TeacherDecodeShare);
            Line("utilisation", u.Stage, "student_step", u.StudentStepMs, "ms/shard");
            Line("utilisation", u.Stage, "student_arrow_decode", u.StudentDecodeMs, "ms/shard");
            Line("utilisation", u.Stage, "student_arrow_decode_share", u.StudentDecodeShare);
            Line("utilisation", u.Stage, "messaging", u.MessagingMs, "ms/shard");
            Line("utilisation", u.Stage, "messaging_share", u.MessagingShare);
            Line("utilisation", u.Stage, "overhead_share", u.OverheadShare);
            Line("utilisation", u.Stage, "shards", u.Shards);
            Line("utilisation", u.Stage, "delivered_shards", u.DeliveredShards);
        }

        foreach (var r in result.Replay)
        {
            Line("replay", r.Stage, "live", r.LiveSeconds, "s");
            Line("replay", r.Stage, "replay", r.ReplaySeconds, "s");
            Line("replay", r.Stage, "limit", r.LimitSeconds, "s");
            Line("replay", r.Stage, "replay_vs_live", r.ReplayVsLive);
            Line("replay", r.Stage, "replay_vs_limit", r.ReplayVsLimit);
            Line("replay", r.Stage, "limit_over_replay", r.LimitSeconds / r.ReplaySeconds);
            Line("replay", r.Stage, "live_vs_limit", r.LiveVsLimit);
            Line("replay", r.Stage, "live_stream", r.LiveStreamSeconds, "s");
            Line("replay", r.Stage, "replay_stream", r.ReplayStreamSeconds, "s");
            Line("replay", r.Stage, "limit_consume", r.LimitConsumeSeconds, "s");
            if (!double.IsNaN(r.ReplayBusyFraction)) Line("replay", r.Stage, "replay_busy_fraction", r.ReplayBusyFraction);
        }

        foreach (var c in result.Cache)
        {
            Line("cache", c.Stage, "parts", c.Parts);
            Line("cache", c.Stage, "rows", c.Rows);
            Line("cache", c.Stage, "tokens", c.Tokens);
            Line("cache", c.Stage, "top_k", c.TopK);
            Line("cache", c.Stage, "vocab_size", c.VocabSize);
            Line("cache", c.Stage, "part_bytes", c.PartBytes, "bytes");
            Line("cache", c.Stage, "sample_bytes", c.SampleBytes, "bytes");
            Line("cache", c.Stage, "bytes_per_token", c.BytesPerToken, "bytes/token");
            Line("cache", c.Stage, "sample_bytes_per_token", c.SampleBytesPerToken, "bytes/token");
            Line("cache", c.Stage, "dense_float32_bytes_per_token", c.DenseBytesPerToken, "bytes/token");
            Line("cache", c.Stage, "logit_ratio", c.LogitRatio);
            Line("cache", c.Stage, "part_ratio", c.PartRatio);
        }
        if (result.Codec is { } codec) CacheCodecReport.Csv(codec, (subject, metric, value, unit) => Line("cache", subject, metric, value, unit));
        foreach (var o in result.Overlap)
        {
            Line("overlap", o.Stage, "teacher_latency", o.LatencyMs, "ms/batch");
            Line("overlap", o.Stage, "teacher", o.TeacherSeconds, "s");
            Line("overlap", o.Stage, "student", o.StudentSeconds, "s");
            Line("overlap", o.Stage, "wall", o.WallSeconds, "s");
            Line("overlap", o.Stage, "wall_over_max", o.WallOverMax);
            Line("overlap", o.Stage, "stream", o.StreamSeconds, "s");
            Line("overlap", o.Stage, "trainer_busy_fraction", o.BusyFraction);
        }
        var baseline = result.Memory.FirstOrDefault(x => x.Scale == 1);
        foreach (var r in result.Memory)
        {
            Line("memory", r.Subject, "scale", r.Scale);
            Line("memory", r.Subject, "replay_window", r.Window, "shards");
            Line("memory", r.Subject, "train_samples", r.TrainSamples);
            Line("memory", r.Subject, "rss_peak", r.PeakBytes / (1 << 20), "MiB");
            Line("memory", r.Subject, "kept", r.KeptBytes / (1 << 20), "MiB");
            Line("memory", r.Subject, "wall", r.WallSeconds, "s");
            if (baseline is not null && r != baseline) Line("memory", r.Subject, "rss_peak_over_1x", r.PeakBytes / baseline.PeakBytes);
        }
        return s.ToString();
    }

    private static string MemoryTable(PipelineBenchResult result)
    {
        var baseline = result.Memory.FirstOrDefault(m => m.Scale == 1);
        var t = new System.Text.StringBuilder();
        t.AppendLine("| run | data | training samples | replay window (shards) | peak RSS (MiB) | / 1x | kept on disk (MiB) | wall (s) |");
        t.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var m in result.Memory)
            t.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {m.Subject} | {m.Scale}x | {m.TrainSamples} | {(m.Window >= MemoryBench.AllInMemory ? "all" : m.Window.ToString(CultureInfo.InvariantCulture))} | " +
                $"{m.PeakBytes / (1 << 20):0} | {(baseline is null ? double.NaN : m.PeakBytes / baseline.PeakBytes):0.00} | {m.KeptBytes / (1 << 20):0.0} | {m.WallSeconds:0} |"));
        return t.ToString();
    }

    public static string Machine(PipelineBenchResult result)
    {
        var m = result.Machine;
        return $"Machine: {m.Cores} cores ({m.Cpu}), {m.TorchThreads} torch thread(s), {m.Os}, {m.Runtime}; " +
               $"load average (1, 5, 15 min) {m.LoadAtStart} at the start, {m.LoadAtEnd} at the end.";
    }

    public static string ScalingTable(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("| teacher workers | credit window | shards | shards/s | ideal shards/s | efficiency | trainer cap shards/s | stage wall s |");
        s.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in result.Scaling)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Workers} | {r.CreditWindow} | {r.Shards} | {r.ShardsPerSecond:0.0} | {r.IdealShardsPerSecond:0.0} | {r.Efficiency:0.00} | " +
                $"{r.TrainerCapShardsPerSecond:0} | {r.StageSeconds:0.00} |"));
        return s.ToString();
    }

    public static string UtilisationTable(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("| stage | trainer busy (streaming) | streaming s | consume s | complete s | teacher step ms | Arrow encode ms (share) | " +
                     "samples decode ms (share) | student step ms | Arrow decode ms (share) | messaging ms (share of teacher + student step) | overhead share |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var u in result.Utilisation)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {u.Stage} | {u.BusyFraction:0.00} | {u.StreamSeconds:0.00} | {u.ConsumeSeconds:0.00} | {u.CompleteSeconds:0.00} | " +
                $"{u.TeacherStepMs:0.0} | {u.TeacherEncodeMs:0.00} ({Pct(u.TeacherEncodeShare)}) | {u.TeacherDecodeMs:0.00} ({Pct(u.TeacherDecodeShare)}) | " +
                $"{u.StudentStepMs:0.0} | {u.StudentDecodeMs:0.00} ({Pct(u.StudentDecodeShare)}) | {u.MessagingMs:0.00} ({Pct(u.MessagingShare)}) | {Pct(u.OverheadShare)} |"));
        return s.ToString();
    }

    public static string ReplayTable(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("| stage | live s | replay s | limit s | replay / live | replay / limit | live / limit | live streaming s | replay streaming s | limit consume s | trainer busy (replay) |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in result.Replay)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Stage} | {r.LiveSeconds:0.00} | {r.ReplaySeconds:0.00} | {r.LimitSeconds:0.00} | {r.ReplayVsLive:0.00} | {r.ReplayVsLimit:0.00} | " +
                $"{r.LiveVsLimit:0.00} | {r.LiveStreamSeconds:0.00} | {r.ReplayStreamSeconds:0.00} | {r.LimitConsumeSeconds:0.00} | " +
                $"{(double.IsNaN(r.ReplayBusyFraction) ? "" : r.ReplayBusyFraction.ToString("0.00", CultureInfo.InvariantCulture))} |"));
        return s.ToString();
    }

    public static string CacheTable(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("| stage | parts | tokens | K | vocabulary | part bytes/token | sample bytes/token (not stored) | dense float32 bytes/token | part / dense logits | part / (samples + dense logits) |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in result.Cache)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Stage} | {c.Parts} | {c.Tokens} | {c.TopK} | {c.VocabSize} | {c.BytesPerToken:0.0} | {c.SampleBytesPerToken:0.0} | " +
                $"{c.DenseBytesPerToken} | {c.LogitRatio:0.000} | {c.PartRatio:0.000} |"));
        return s.ToString();
    }

    public static string OverlapTable(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("| stage | teacher latency ms/batch | teacher s | student alone s | wall s | wall / max(teacher, student) | streaming s | trainer busy (streaming) |");
        s.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var o in result.Overlap)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {o.Stage} | {o.LatencyMs:0.0} | {o.TeacherSeconds:0.00} | {o.StudentSeconds:0.00} | {o.WallSeconds:0.00} | {o.WallOverMax:0.00} | " +
                $"{o.StreamSeconds:0.00} | {o.BusyFraction:0.00} |"));
        return s.ToString();
    }

    public static string ToMarkdown(PipelineBenchResult result)
    {
        var s = new StringBuilder();
        s.AppendLine("# Pipeline benchmark");
        s.AppendLine();
        s.AppendLine(Machine(result));
        s.AppendLine();
        if (result.Sizes.Length > 0)
            s.AppendLine(string.Create(CultureInfo.InvariantCulture, $"Preset {result.Preset}: {result.Sizes}. {result.Repeats} repeat(s)."));
        else
            s.AppendLine($"Preset {result.Preset}: no student stage run.");
        s.AppendLine();
        s.AppendLine(string.Create(CultureInfo.InvariantCulture, $"## (a) Teacher workers: scaling against the ideal ({result.LatencyMs:0.#} ms teacher stand-in)"));
        s.AppendLine();
        s.Append(result.Scaling.Count > 0 ? ScalingTable(result) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## (b) Trainer utilisation, Arrow and messaging (live teachers)");
        s.AppendLine();
        s.Append(result.Utilisation.Count > 0 ? UtilisationTable(result) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## (c) Replay vs live vs the trainer fed from memory");
        s.AppendLine();
        s.Append(result.Replay.Count > 0 ? ReplayTable(result) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## (d) Bytes per cached token");
        s.AppendLine();
        s.Append(result.Cache.Count > 0 ? CacheTable(result) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## (e) Overlap: a teacher faster than the student (stand-ins on another machine)");
        s.AppendLine();
        s.Append(result.Overlap.Count > 0 ? OverlapTable(result) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## (f) The cache at a real vocabulary: compact top-K");
        s.AppendLine();
        s.Append(result.Codec is { } codec ? CacheCodecReport.Summary(codec) + "\n\n" + CacheCodecReport.Table(codec) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## (g) Memory: mimic at the preset's data and at more");
        s.AppendLine();
        s.Append(result.Memory.Count > 0 ? MemoryTable(result) : NotMeasured + "\n");
        s.AppendLine();
        s.AppendLine("## Notes");
        s.AppendLine();
        foreach (var note in result.Notes) s.AppendLine("- " + note);
        return s.ToString();
    }

    private const string NotMeasured = "Not measured (see --sections).";

    private static string Pct(double share) => double.IsFinite(share) ? (share * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%" : "n/a";

    private static string F(double v) => v.ToString("0.######", CultureInfo.InvariantCulture);
}
