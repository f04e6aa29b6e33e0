using System.Globalization;
using Distill.Pipeline.Bench;
using Distill.Pipeline.Cli;
using Distill.Pipeline.Runs;
using Distill.Stages.Arrow;
using Distill.Stages.Cache;
using Distill.Stages.Distillation;
using Distill.Stages.Flow;
using Distill.Stages.Text;
using Distill.Stages.Workspace;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill bench pipeline</c>: structure, counted and hand-computed values; no timing is asserted beyond
/// "positive" and the sanity bounds of a ratio.</summary>
public class BenchPipelineTests
{
    private static readonly DateTimeOffset Now = new(2025, 3, 4, 5, 6, 7, TimeSpan.Zero);

    private static readonly string[] Small =
    [
        "-D", "distill.data.train-scenes=24", "-D", "distill.data.val-scenes=8", "-D", "distill.data.test-scenes=8",
    ];


    private sealed record Row(string Section, string Subject, string Metric, double Value, string Unit);

    private static List<Row> ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path);
        Assert.Equal(PipelineBenchReport.Header, lines[0]);
        return lines.Skip(1).Select(l => l.Split(','))
            .Select(c => new Row(c[0], c[1], c[2], double.Parse(c[3], CultureInfo.InvariantCulture), c[4]))
            .ToList();
    }

    [Fact]
    public async Task Bench_pipeline_on_tiny_writes_every_section_with_sane_values()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run(["bench", "pipeline", "--preset", "tiny", "--repeats", "1", "--latency-ms", "5", "--workers", "1,2",
            "--codec-vocab", "512", "--codec-tokens", "8", "--sections", "scaling,stages,codec", .. Small]);
        Assert.True(code == 0, h.Err.ToString() + h.Out);
        Assert.False(h.PipelineCalled); // the bench runs its own pipelines, not the CLI's runner

        var root = Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchVerb.RunLabel));
        var csvPath = Path.Combine(root, "bench", PipelineBenchReport.CsvFile);
        var mdPath = Path.Combine(root, "bench", PipelineBenchReport.MarkdownFile);
        Assert.True(File.Exists(csvPath));
        Assert.True(File.Exists(mdPath));
        var rows = ReadCsv(csvPath);
        double Value(string section, string subject, string metric) =>
            rows.Single(r => r.Section == section && r.Subject == subject && r.Metric == metric).Value;
        Assert.Equal(PipelineBenchReport.Sections.Where(x => x != "memory"), rows.Select(r => r.Section).Distinct()); // (g) has its own test

        Assert.Equal(Environment.ProcessorCount, Value("machine", "machine", "cores"));
        Assert.True(Value("machine", "machine", "torch_threads") >= 1);

        // (a) 32 shards per setting (8 rounds of 2 workers is less); tiny's credit window 3 is raised to 2 x workers.
        Assert.Equal(["workers=1", "workers=2"], rows.Where(r => r.Section == "scaling").Select(r => r.Subject).Distinct());
        foreach (var (workers, window) in new[] { (1, 3), (2, 4) })
        {
            var subject = $"workers={workers}";
            Assert.Equal(32, Value("scaling", subject, "shards"));
            Assert.Equal(window, Value("scaling", subject, "credit_window"));
            Assert.Equal(5, Value("scaling", subject, "latency"));
            var cap = Value("scaling", subject, "trainer_cap");
            Assert.Equal(Math.Min(workers * 1000.0 / 5, cap), Value("scaling", subject, "ideal"), tolerance: 1e-4);
            var efficiency = Value("scaling", subject, "efficiency");
            Assert.True(efficiency > 0 && efficiency <= 1.5, $"{subject}: efficiency {efficiency}");
            Assert.True(Value("scaling", subject, "throughput") > 0);
        }

        // The dataset the student stages ran on: 3 training shards of 16 and 1 held-out shard, the response positions
        // of every row distilled (scope response).
        var work = PipelineBench.WorkDir(root);
        var data = new ShapesData(Path.Combine(work, "data"),
            WordTokenizer.Load(Path.Combine(work, "live-1", "tokenizer.json")), imageSize: 32, imageTokens: 16);
        var all = data.Rows("train").Concat(data.Rows("val")).ToList();
        var shards = (int)Math.Ceiling(data.Rows("train").Count / 16.0) + (int)Math.Ceiling(data.Rows("val").Count / 16.0);
        var tokens = all.Sum(r => PredictingPositions.Of(r.LabelsMask, TokenScope.Response).Length);

        // (b)
        foreach (var stage in PipelineBench.StudentStages)
        {
            var busy = Value("utilisation", stage, "trainer_busy_fraction");
            Assert.True(busy > 0 && busy <= 1, $"{stage}: busy {busy}");
            Assert.Equal(shards, Value("utilisation", stage, "shards"));
            var delivered = Value("utilisation", stage, "delivered_shards");
            Assert.True(delivered >= 1 && delivered <= shards, $"{stage}: {delivered} of {shards} delivered in memory");
            foreach (var metric in new[] { "teacher_step", "teacher_arrow_encode", "teacher_arrow_decode", "student_step", "student_arrow_decode" })
                Assert.True(Value("utilisation", stage, metric) > 0, $"{stage} {metric}");
            foreach (var share in new[] { "teacher_arrow_encode_share", "teacher_arrow_decode_share", "student_arrow_decode_share" })
                Assert.InRange(Value("utilisation", stage, share), 0, 1);
        }

        // (c) one round: "all" is the sum of the stages.
        foreach (var metric in new[] { "live", "replay", "limit" })
        {
            foreach (var stage in PipelineBench.StudentStages) Assert.True(Value("replay", stage, metric) > 0, $"{stage} {metric}");
            // Each value is written with 6 decimals, so the sum of the written ones may differ in the 6th.
            Assert.Equal(PipelineBench.StudentStages.Sum(st => Value("replay", st, metric)), Value("replay", PipelineBench.Total, metric), tolerance: 1e-5);
        }
        Assert.Equal(Value("replay", "all", "replay") / Value("replay", "all", "live"), Value("replay", "all", "replay_vs_live"), tolerance: 1e-4);
        Assert.Equal(Value("replay", "all", "limit") / Value("replay", "all", "replay"), Value("replay", "all", "limit_over_replay"), tolerance: 1e-4);

        // (d) every cache of the live run (mimic's; mod's too where it keeps its own) holds every row: tokens counted
        // from the dataset, dense = 4 bytes x vocabulary.
        var cached = rows.Where(r => r.Section == "cache" && !r.Subject.StartsWith("vocab")).Select(r => r.Subject).Distinct().ToList();
        Assert.Contains("mimic", cached);
        foreach (var stage in cached)
        {
            Assert.Equal(shards, Value("cache", stage, "parts"));
            Assert.Equal(all.Count, Value("cache", stage, "rows"));
            Assert.Equal(tokens, Value("cache", stage, "tokens"));
            Assert.Equal(8, Value("cache", stage, "top_k"));
            Assert.Equal(data.Tokenizer.VocabSize, Value("cache", stage, "vocab_size"));
            Assert.Equal(4 * data.Tokenizer.VocabSize, Value("cache", stage, "dense_float32_bytes_per_token"));
            // A token's two records: 8 ids of 6 bits (a vocabulary under 64) = 6 bytes, and 4 float16 + the float16
            // tail + the step exponent + 4 steps of 3 bits = 13 bytes; the part holds no image (6,912 bytes a row).
            var perToken = Value("cache", stage, "bytes_per_token");
            Assert.True(perToken >= 6 + 13 && perToken < Value("cache", stage, "sample_bytes_per_token") / 10,
                $"{stage}: {perToken} bytes per token, the samples {Value("cache", stage, "sample_bytes_per_token")}");
            Assert.True(Value("cache", stage, "logit_ratio") < 1);
        }

        // (e) the stand-in teachers' latency is 2 workers (tiny) x the limit's consume time per shard / 2; the student
        // alone is the limit's wall time; wall / max is the ratio of the figures written.
        foreach (var stage in PipelineBench.StudentStages)
        {
            Assert.Equal(Value("replay", stage, "limit"), Value("overlap", stage, "student"), 4);
            Assert.Equal(2 * Value("replay", stage, "limit_consume") / shards / 2 * 1000, Value("overlap", stage, "teacher_latency"), tolerance: 0.01);
            double teacher = Value("overlap", stage, "teacher"), wall = Value("overlap", stage, "wall");
            Assert.True(teacher > 0 && wall > 0, $"{stage}: teacher {teacher} s, wall {wall} s");
            Assert.Equal(wall / Math.Max(teacher, Value("overlap", stage, "student")), Value("overlap", stage, "wall_over_max"), tolerance: 1e-3);
            Assert.InRange(Value("overlap", stage, "trainer_busy_fraction"), 0, 1);
        }

        var md = File.ReadAllText(mdPath);
        // (f) the codec rows of the small vocabulary asked for, in the cache section.
        Assert.Equal(8, Value("cache", "vocab512", "tokens"));
        Assert.InRange(Value("cache", "vocab512-k64", "grad_cosine"), 0, 1);
        Assert.True(Value("cache", "vocab512-k64", "bytes_per_token") < Value("cache", "vocab512-k64-float16", "bytes_per_token"));

        foreach (var heading in new[] { "## (a)", "## (b)", "## (c)", "## (d)", "## (e)", "## (f)", "## Notes" }) Assert.Contains(heading, md);
        Assert.Contains($"{Environment.ProcessorCount} cores", md);
        Assert.Contains("torch thread", md);
        Assert.Contains("| 2 | 4 | 32 |", md); // the scaling row of 2 workers with its window and shards
        Assert.Contains(csvPath, h.Out.ToString());
    }

    [Theory]
    [InlineData("--workers", "0,2")]
    [InlineData("--workers", "a")]
    [InlineData("--workers", "2,2")]
    [InlineData("--workers", "")]
    [InlineData("--latency-ms", "0")]
    [InlineData("--repeats", "0")]
    [InlineData("--sections", "cache")]
    [InlineData("--sections", "codec,codec")]
    [InlineData("--sections", "")]
    [InlineData("--codec-vocab", "100")]
    [InlineData("--codec-tokens", "0")]
    public async Task A_bad_option_exits_2_naming_it_and_creates_nothing(string option, string value)
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "pipeline", "--preset", "tiny", option, value));
        Assert.Contains(option, h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
    }

    [Fact]
    public async Task A_bad_define_exits_2_and_creates_nothing()
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "pipeline", "-D", "distill.parallelism.shard-size=0"));
        Assert.Contains("distill.parallelism.shard-size", h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
    }

    [Fact]
    public void Worker_lists_parse_and_the_default_preset_is_bench()
    {
        Assert.Equal([1, 2, 4], BenchPipelineVerb.ParseWorkers("1, 2,4", out var error));
        Assert.Null(error);
        Assert.Null(BenchPipelineVerb.ParseWorkers("1,65", out error));
        Assert.Contains("--workers", error);
        Assert.Equal("bench", new PipelineBenchOptions().Sources.Preset);
        Cfg.Load("bench"); // the preset validates
    }

    [Fact]
    public async Task Bench_pipeline_sections_codec_measures_the_codec_alone_without_a_dataset()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run("bench", "pipeline", "--preset", "tiny", "--sections", "codec", "--codec-vocab", "1000", "--codec-tokens", "16");
        Assert.True(code == 0, h.Err.ToString() + h.Out);
        var root = Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchVerb.RunLabel));
        var rows = ReadCsv(Path.Combine(root, "bench", PipelineBenchReport.CsvFile));
        Assert.Equal(["machine", "cache"], rows.Select(r => r.Section).Distinct());
        Assert.False(Directory.Exists(Path.Combine(PipelineBench.WorkDir(root), "data"))); // no dataset, no run
        foreach (int k in new CacheCodecBenchOptions().TopKs)
            foreach (var setting in CacheCodecSettings.All)
            {
                var subject = CacheCodecRow.SubjectOf(1000, k, setting);
                Assert.Single(rows, r => r.Subject == subject && r.Metric == "bytes_per_token" && r.Unit == "bytes/token");
                Assert.Single(rows, r => r.Subject == subject && r.Metric == "grad_cosine");
            }
        Assert.Contains(rows, r => r.Subject == "vocab1000-k64" && r.Metric == "grad_cosine");
        var md = File.ReadAllText(Path.Combine(root, "bench", PipelineBenchReport.MarkdownFile));
        Assert.Contains("## (f)", md);
        Assert.Contains("Not measured (see --sections).", md);
        Assert.Contains("| 64 | compact-zstd |", md);
        Assert.Contains("| 64 | compact-zstd |", h.Out.ToString()); // the table on stdout too
    }

    [Fact]
    public async Task Bench_pipeline_memory_runs_mimic_at_more_data_in_child_processes_and_reports_each_peak()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run(["bench", "pipeline", "--preset", "tiny", "--sections", "memory", "--memory-scale", "2", .. Small]);
        Assert.True(code == 0, h.Err.ToString() + h.Out);
        var root = Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchVerb.RunLabel));
        var rows = ReadCsv(Path.Combine(root, "bench", PipelineBenchReport.CsvFile));
        double Value(string subject, string metric) => rows.Single(r => r.Section == "memory" && r.Subject == subject && r.Metric == metric).Value;
        Assert.Equal(["mimic-1x", "mimic-2x", "mimic-2x-all-in-memory"], rows.Where(r => r.Section == "memory").Select(r => r.Subject).Distinct());
        // tiny: 24 scenes x 2 questions, of which the labelled share and pool are all distilled; twice the scenes, twice the samples.
        Assert.Equal(2 * Value("mimic-1x", "train_samples"), Value("mimic-2x", "train_samples"));
        Assert.Equal(Value("mimic-2x", "train_samples"), Value("mimic-2x-all-in-memory", "train_samples"));
        foreach (var subject in new[] { "mimic-1x", "mimic-2x", "mimic-2x-all-in-memory" })
        {
            Assert.InRange(Value(subject, "rss_peak"), 50, 64 * 1024);      // MiB: a real peak of a process with libtorch
            Assert.True(Value(subject, "kept") > 0);
        }
        Assert.True(Value("mimic-2x", "kept") > 1.5 * Value("mimic-1x", "kept"));   // the kept batches grow with the data
        Assert.Equal(1e6, Value("mimic-2x-all-in-memory", "replay_window"));
        Assert.Contains("## (g) Memory", File.ReadAllText(Path.Combine(root, "bench", PipelineBenchReport.MarkdownFile)));
    }

    [Fact]
    public void Sections_parse_in_the_benchs_order()
    {
        Assert.Equal([PipelineBench.Scaling, PipelineBench.Codec], BenchPipelineVerb.ParseSections("codec, scaling", out var error));
        Assert.Null(error);
        Assert.Null(BenchPipelineVerb.ParseSections("codec,cache", out error));
        Assert.Contains("--sections", error);
        Assert.Equal(PipelineBench.Parts, new PipelineBenchOptions().Sections);
    }

    /// <summary>The codec measurement on a small vocabulary (V = 2000, 48 tokens): a K that holds the whole vocabulary
    /// makes the sparse KL the dense one; more K, more of the gradient; the compact records are smaller than float16
    /// lists and keep the gradient (their log-prob errors are at most half a step of 1/64 nats or more).</summary>
    [Fact]
    public void Cache_codec_gradients_approach_the_dense_one_with_K_and_the_compact_part_is_smaller()
    {
        TorchSharp.torch.set_num_threads(1);
        const int vocab = 2000;
        var options = new CacheCodecBenchOptions { VocabSize = vocab, Hidden = 64, Tokens = 48, Chunk = 16, TopKs = [4, 16, 64, vocab], Seed = 3 };
        var result = CacheCodecBench.Run(options);
        Assert.Equal(4 * CacheCodecSettings.All.Count, result.Rows.Count);
        Assert.InRange(result.TeacherEntropy, 0.1, Math.Log(vocab));
        Assert.True(result.StudentKl > 0.01, $"student KL {result.StudentKl}");

        foreach (var setting in CacheCodecSettings.All)
        {
            var cosines = options.TopKs.Select(k => result.Row(k, setting).GradCosine).ToList();
            for (int i = 1; i < cosines.Count; i++)
                Assert.True(cosines[i] > cosines[i - 1], $"{setting.Name()}: cosine {cosines[i]} at K = {options.TopKs[i]} not above {cosines[i - 1]}");
            var tails = options.TopKs.Select(k => result.Row(k, setting).TailMass).ToList();
            for (int i = 1; i < tails.Count; i++) Assert.True(tails[i] < tails[i - 1], $"{setting.Name()}: tail mass not falling with K");
            Assert.True(cosines[0] < 0.999, $"{setting.Name()}: K = 4 already gives {cosines[0]}"); // the measurement can tell K apart
        }
        // K = V: no tail (its mass is the floor e^-80), so the sparse KL is the dense KL up to the stored log-probs' rounding.
        var whole = result.Row(vocab, CacheCodecSetting.Float16);
        Assert.True(whole.TailMass < 1e-30, $"tail mass {whole.TailMass}");
        Assert.True(whole.GradCosine > 1 - 1e-5 && whole.TokenMinCosine > 1 - 1e-4, $"float16 at K = V: {whole.GradCosine}, min {whole.TokenMinCosine}");
        // Compact at K = V quantises 1996 log-probs in 3-bit steps, which one large gap widens for the whole token.
        var compactWhole = result.Row(vocab, CacheCodecSetting.CompactZstd);
        Assert.True(compactWhole.GradCosine > 0.999, $"compact at K = V: {compactWhole.GradCosine}");

        foreach (int k in options.TopKs)
        {
            var f16 = result.Row(k, CacheCodecSetting.Float16);
            var f16z = result.Row(k, CacheCodecSetting.Float16Zstd);
            var compact = result.Row(k, CacheCodecSetting.Compact);
            var compactZ = result.Row(k, CacheCodecSetting.CompactZstd);
            // The same decoded values with and without zstd.
            Assert.Equal(f16.GradCosine, f16z.GradCosine);
            Assert.Equal(compact.GradCosine, compactZ.GradCosine);
            // Quantising all but 4 log-probs costs little of the gradient.
            Assert.True(Math.Abs(compact.GradCosine - f16.GradCosine) < 1e-3, $"K = {k}: compact {compact.GradCosine} vs float16 {f16.GradCosine}");
            Assert.Equal(6 * k + 4, f16.RecordBytes);
            Assert.Equal(new Distill.Stages.Arrow.TopKCodec(options.Codec(k)).BytesPerToken, compact.RecordBytes);
            Assert.True(f16.BytesPerToken >= f16.RecordBytes && compact.BytesPerToken >= compact.RecordBytes);
            Assert.True(compact.BytesPerToken < f16.BytesPerToken, $"K = {k}: compact {compact.BytesPerToken} B vs float16 {f16.BytesPerToken} B");
            Assert.True(compactZ.BytesPerToken < f16z.BytesPerToken, $"K = {k}: compact-zstd {compactZ.BytesPerToken} B vs float16-zstd {f16z.BytesPerToken} B");
            Assert.True(f16z.BytesPerToken < f16.BytesPerToken, $"K = {k}: zstd does not shrink int32 ids of 11 bits");
        }
        // V = 2000 takes 11 bits: K = 16 -> 22 id bytes; 4 float16 + float16 tail + exponent + 12 3-bit steps (5 bytes) = 16.
        Assert.Equal(38, result.Row(16).RecordBytes);
    }

    [Fact]
    public void The_ideal_is_workers_over_latency_capped_by_the_trainer()
    {
        Assert.Equal(80, ScalingRow.Ideal(4, 50, 1000), 12);        // 4 / 0.05 s
        Assert.Equal(100, ScalingRow.Ideal(8, 50, 100), 12);        // 160 capped by the trainer
        var row = new ScalingRow(4, 8, 32, 50, ShardsPerSecond: 60, TrainerCapShardsPerSecond: 1000, StageSeconds: 1, Runs: [60]);
        Assert.Equal(0.75, row.Efficiency, 12);
        Assert.Equal(8, ScalingBench.WindowFor(4, 4));
        Assert.Equal(6, ScalingBench.WindowFor(6, 2));
        Assert.Equal(2.5, ScalingBench.Median([4, 1, 2, 3]), 12);
        Assert.Equal(3, ScalingBench.Median([5, 3, 1]), 12);
    }

    [Fact]
    public void Cache_ratios_follow_from_the_byte_counts()
    {
        var row = new CacheBytesRow("mimic", Parts: 2, Rows: 4, Tokens: 10, PartBytes: 2000, SampleBytes: 1000, TopK: 8, VocabSize: 100);
        Assert.Equal(200, row.BytesPerToken, 12);
        Assert.Equal(100, row.SampleBytesPerToken, 12);
        Assert.Equal(400, row.DenseBytesPerToken);
        Assert.Equal(0.5, row.LogitRatio, 12);
        Assert.Equal(2000.0 / (1000 + 400 * 10), row.PartRatio, 12);
    }

    [Fact]
    public void Cache_bytes_count_the_predicting_positions_of_every_cached_row()
    {
        using var dir = new TempDir();
        // Masks with 2 and 1 response positions (labels_mask[t + 1] true for t = 1, 2; then t = 2).
        SampleRow Sample(string id, bool[] mask) => new(id, [1, 2, 3], [1, 2, 3, 4], mask, "colour", "red");
        var rows = new[] { Sample("a", [false, false, true, true]), Sample("b", [false, false, false, true]) };
        var meta = new TeacherBatchMeta("teacher-x", TopK: 2, VocabSize: 10, TokenizerHash: "tok-x", Scope: "response");
        var batch = SyntheticTeacherBatch.Create(rows, meta, TokenScope.Response, imageBytes: 3, TeacherEncoding.Default);
        var images = new RowImages(rows, 3);
        var (decoded, _) = TeacherV2.Read(batch, images);
        Assert.Equal([2, 1], decoded.Select(r => r.Positions));

        var key = new CacheKey("teacher-x", "tok-x", TeacherV2.SchemaName, "data-x", "config-x");
        var cache = StageCache.Open(dir.Path, "mimic", key, shardCount: 1, CacheMode.Write);
        cache.Write(0, batch);

        var measured = Assert.Single(CacheBytes.Measure(dir.Path, images));
        Assert.Equal("mimic", measured.Stage);
        Assert.Equal(1, measured.Parts);
        Assert.Equal(2, measured.Rows);
        Assert.Equal(3, measured.Tokens);
        Assert.Equal(2, measured.TopK);
        Assert.Equal(10, measured.VocabSize);
        Assert.Equal(batch.Length, measured.PartBytes);
        Assert.Equal(SamplesV1.Write(rows, 3).Length, measured.SampleBytes);
    }

    [Fact]
    public void Replay_rows_take_the_median_over_rounds_of_the_sum_over_stages()
    {
        static StageRun Run(string stage, string mode, int round, double wall) =>
            new(stage, mode, round, wall, new Dictionary<string, double> { ["trainer_stream_seconds"] = wall / 2, ["limit_consume_seconds"] = wall / 4 });
        var walls = new[] { (1, 10.0, 5.0), (2, 12.0, 5.0), (3, 30.0, 5.0) };
        var live = walls.Select(w => new LiveRun("", "", [Run("mimic", "live", w.Item1, w.Item2), Run("mod", "live", w.Item1, w.Item3)],
            new Dictionary<string, FlowStageTimes>())).ToList();
        var replay = walls.SelectMany(w => new[] { Run("mimic", "replay", w.Item1, w.Item2 / 2), Run("mod", "replay", w.Item1, 1) }).ToList();
        var limit = walls.SelectMany(w => new[] { Run("mimic", "limit", w.Item1, 4), Run("mod", "limit", w.Item1, 1) }).ToList();

        var rows = PipelineBench.Replay(live, replay, limit);
        var mimic = rows.Single(r => r.Stage == "mimic");
        Assert.Equal(12, mimic.LiveSeconds, 12);             // median of 10, 12, 30
        Assert.Equal(6, mimic.ReplaySeconds, 12);
        Assert.Equal(0.5, mimic.ReplayVsLive, 12);
        Assert.Equal(1.5, mimic.ReplayVsLimit, 12);
        var total = rows.Single(r => r.Stage == PipelineBench.Total);
        Assert.Equal(17, total.LiveSeconds, 12);             // median of 15, 17, 35
        Assert.Equal(8.5, total.LiveStreamSeconds, 12);
        Assert.Equal(7, total.ReplaySeconds, 12);            // median of 6, 7, 16
        Assert.Equal(5, total.LimitSeconds, 12);
        Assert.Equal(1.25, total.LimitConsumeSeconds, 12);
        Assert.True(double.IsNaN(total.ReplayBusyFraction));
    }
}
