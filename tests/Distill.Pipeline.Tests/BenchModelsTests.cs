using System.Globalization;
using Distill.Models.Accounting;
using Distill.Models.Config;
using Distill.Pipeline.Bench;
using Distill.Pipeline.Cli;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Runs;
using Distill.Stages.Data;
using Distill.Stages.Text;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill bench models</c>: structure and accounted values only; no timing is asserted beyond "positive".</summary>
public class BenchModelsTests
{
    private static readonly DateTimeOffset Now = new(2025, 2, 3, 4, 5, 6, TimeSpan.Zero);

    private static readonly string[] ExpectedModels =
        ["teacher", "student-dense", "student-moe", "student-mod-0", "student-mod-25", "student-mod-50", "student-mod-75"];


    [Fact]
    public async Task Bench_models_on_tiny_writes_csv_and_markdown_with_the_accounted_values()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run("bench", "models", "--preset", "tiny", "--repeats", "1", "--batch", "2", "--decode-steps", "2", "--checkpoint", "tiny");
        Assert.True(code == 0, h.Err.ToString());
        Assert.False(h.PipelineCalled);

        // Default directory runs/<stamp>-bench-<preset>, with the resolved configuration.
        var root = Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchVerb.RunLabel));
        Assert.EndsWith("-bench-tiny", root);
        Assert.True(File.Exists(Path.Combine(root, RunPaths.ResolvedConfigName)));
        var csvPath = Path.Combine(root, ModelBenchReport.CsvFile);
        var mdPath = Path.Combine(root, ModelBenchReport.MarkdownFile);
        Assert.True(File.Exists(csvPath));
        Assert.True(File.Exists(mdPath));

        var lines = File.ReadAllLines(csvPath);
        Assert.Equal(string.Join(",", ModelBenchReport.Columns), lines[0]);
        var rows = lines.Skip(1).Select(l => ModelBenchReport.Columns.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
        Assert.Equal(ExpectedModels, rows.Select(r => r["model"]));

        var settings = Cfg.Load("tiny").Settings;
        var workload = ShapesWorkload.Of(settings);
        Assert.Equal(16, workload.ImageTokens);                                  // (32 / 8)^2
        var student = ModelConfigs.Student(settings, workload.VocabSize, workload.ImageTokenId);
        var expected = new Dictionary<string, VlmConfig>
        {
            ["teacher"] = ModelConfigs.Teacher(settings, workload.VocabSize, workload.ImageTokenId),
            ["student-dense"] = student,
            ["student-moe"] = student with { Text = student.Text with { Moe = new MoeConfig(Experts: 4, TopK: 2) } },
        };
        foreach (var (name, skip) in new[] { ("student-mod-0", 0.0), ("student-mod-25", 0.25), ("student-mod-50", 0.5), ("student-mod-75", 0.75) })
            expected[name] = student with { Text = student.Text with { Mod = new ModConfig([0], SkipRatio: skip) } }; // one layer: layer 0

        foreach (var row in rows)
        {
            var config = expected[row["model"]];
            var flops = FlopAccounting.Forward(config, SequenceShape.ForImage(config, workload.TextTokens));
            var parameters = ParameterAccounting.Count(config);
            Assert.Equal("2", row["batch"]);
            Assert.Equal(workload.TextTokens.ToString(CultureInfo.InvariantCulture), row["text_tokens"]);
            Assert.Equal(parameters.Total, long.Parse(row["params_total"], CultureInfo.InvariantCulture));
            Assert.Equal(parameters.Activated, long.Parse(row["params_activated"], CultureInfo.InvariantCulture));
            Assert.Equal(flops.Total, long.Parse(row["flops_per_sample"], CultureInfo.InvariantCulture));
            Assert.Equal(flops.Decoder, long.Parse(row["decoder_flops_per_sample"], CultureInfo.InvariantCulture));
            Assert.Equal(flops.PerToken, double.Parse(row["flops_per_token"], CultureInfo.InvariantCulture));
            Assert.Equal(flops.DecoderPerToken, double.Parse(row["decoder_flops_per_token"], CultureInfo.InvariantCulture));
            foreach (var speed in new[] { "forward_ms", "forward_tokens_per_s", "achieved_gflops", "prefill_ms", "prefill_batch_ms", "decode_ms_per_token" })
                Assert.True(double.Parse(row[speed], CultureInfo.InvariantCulture) > 0, $"{row["model"]} {speed} = {row[speed]}");

            var isMoe = row["kind"] == "moe";
            var isMod = row["kind"] == "mod";
            Assert.Equal(isMoe, row["moe_overhead"].Length > 0);
            Assert.Equal(isMod, row["mod_forward_speedup"].Length > 0);
            Assert.Equal(isMod, row["mod_prefill_batch_speedup"].Length > 0);
            Assert.Equal(isMod, row["mod_skip"].Length > 0);
            if (isMod)
            {
                var mod0 = rows.Single(r => r["model"] == "student-mod-0");
                Assert.Equal((double)long.Parse(mod0["flops_per_sample"], CultureInfo.InvariantCulture) / flops.Total,
                    double.Parse(row["mod_flop_reduction"], CultureInfo.InvariantCulture), 5);
            }
        }
        // MoD FLOPs fall with the skip ratio; skip 0 compares with itself.
        var modFlops = rows.Where(r => r["kind"] == "mod").Select(r => long.Parse(r["decoder_flops_per_sample"], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(modFlops.OrderDescending(), modFlops);
        Assert.Equal("1", rows.Single(r => r["model"] == "student-mod-0")["mod_forward_speedup"]);

        var md = File.ReadAllText(mdPath);
        Assert.Contains("| model | routing | params total |", md);
        Assert.Contains("random", md);
        foreach (var model in ExpectedModels) Assert.Contains($"| {model} |", md);
        var console = h.Out.ToString();
        Assert.Contains("| student-moe |", console);
        Assert.Contains(csvPath, console);

        // The Hugging Face checkpoint section: a random Llama written, loaded and run in float32 and bfloat16.
        var checkpointRows = File.ReadAllLines(Path.Combine(root, CheckpointBenchReport.CsvFile)).Skip(1)
            .Select(l => CheckpointBenchReport.Columns.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
        Assert.Equal(["float32", "bfloat16"], checkpointRows.Select(r => r["dtype"]));
        var tiny = BenchCheckpoints.Config("tiny")!;
        var tinyParams = ParameterAccounting.Count(tiny).Total;
        foreach (var (row, bytesPerValue) in checkpointRows.Zip(new[] { 4, 2 }))
        {
            Assert.Equal(tinyParams, long.Parse(row["params"], CultureInfo.InvariantCulture));
            // model.safetensors holds every parameter at its dtype's width, plus a JSON header and config.json.
            var fileBytes = long.Parse(row["file_bytes"], CultureInfo.InvariantCulture);
            Assert.InRange(fileBytes, tinyParams * bytesPerValue, tinyParams * bytesPerValue + 64 * 1024);
            Assert.Equal((CheckpointBench.Batch, CheckpointBench.Tokens), (int.Parse(row["batch"], CultureInfo.InvariantCulture), int.Parse(row["tokens"], CultureInfo.InvariantCulture)));
            foreach (var speed in new[] { "load_s", "forward_ms", "forward_tokens_per_s", "achieved_gflops", "matmul_gflops" })
                Assert.True(double.Parse(row[speed], CultureInfo.InvariantCulture) > 0, $"{row["dtype"]} {speed} = {row[speed]}");
            Assert.True(long.Parse(row["peak_rss_bytes"], CultureInfo.InvariantCulture) >= 0);           // Linux: /proc/self
        }
        Assert.Contains("| dtype | file | load s |", console);
        Assert.Empty(Directory.GetDirectories(Path.GetTempPath(), $"distill-bench-{Environment.ProcessId}-*"));  // temp checkpoints removed
    }

    [Fact]
    public async Task Bench_parity_without_the_reference_python_measures_distill_and_says_transformers_did_not_run()
    {
        using var h = new CliHarness(Now);
        var missing = Path.Combine(h.Dir.Path, "no-such-python3");
        var code = await h.Run("bench", "parity", "--preset", "tiny", "--checkpoint", "tiny", "--repeats", "1", "--hf-python", missing);
        Assert.True(code == 0, h.Err.ToString());
        var root = Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchVerb.RunLabel));
        var lines = File.ReadAllLines(Path.Combine(root, ParityBenchReport.CsvFile));
        Assert.Equal(string.Join(",", ParityBenchReport.Columns), lines[0]);
        var row = ParityBenchReport.Columns.Zip(Assert.Single(lines.Skip(1)).Split(',')).ToDictionary(p => p.First, p => p.Second);
        Assert.Equal(("distill", "tiny"), (row["implementation"], row["size"]));
        Assert.Equal(ParameterAccounting.Count(BenchCheckpoints.Config("tiny")!).Total, long.Parse(row["params"], CultureInfo.InvariantCulture));
        Assert.True(double.Parse(row["forward_ms"], CultureInfo.InvariantCulture) > 0);
        Assert.Equal("", row["speedup_vs_transformers"]);
        var md = File.ReadAllText(Path.Combine(root, ParityBenchReport.MarkdownFile));
        Assert.Contains($"transformers: not run: no hf-reference python (looked for {missing};", md);
    }

    [Fact]
    public async Task Bench_data_times_the_loader_path_with_one_and_two_loaders_and_streams_the_reader()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run("bench", "data", "--preset", "tiny", "--photos", "6", "--stream", "500",
            "--tokenizer", Distill.Stages.Tests.TokenizerFixtures.TokenizerDir("qwen3"));
        Assert.True(code == 0, h.Err.ToString());
        var root = Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchVerb.RunLabel));
        var lines = File.ReadAllLines(Path.Combine(root, DataBenchReport.CsvFile));
        Assert.Equal(string.Join(",", DataBenchReport.Columns), lines[0]);
        var rows = lines.Skip(1).Select(l => DataBenchReport.Columns.Zip(l.Split(',')).ToDictionary(p => p.First, p => p.Second)).ToList();
        Assert.Equal([("loader", "1", "6"), ("loader", "2", "6"), ("stream", "1", "500"), ("teacher-bound", "", "")], rows.Select(r => (r["section"], r["loaders"], r["samples"])));
        Assert.All(rows, r => Assert.True(double.Parse(r["samples_per_s"], CultureInfo.InvariantCulture) > 0));
        // LLaVA-1.5-7B's forward (576 image tokens + the text) is some 8 TFLOP: far below one sample per second here.
        Assert.InRange(double.Parse(rows[3]["samples_per_s"], CultureInfo.InvariantCulture), 1e-3, 1);
        Assert.Equal(6, Directory.GetFiles(Path.Combine(root, "bench", "data", "images"), "*.jpg").Length);
        Assert.Contains("| 2 | 6 |", File.ReadAllText(Path.Combine(root, DataBenchReport.MarkdownFile)));
    }

    [Fact]
    public async Task Bench_data_without_a_tokenizer_names_the_missing_file_and_how_to_get_it()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run("bench", "data", "--preset", "tiny", "--photos", "1", "--stream", "1", "--tokenizer", Path.Combine(h.Dir.Path, "none"));
        Assert.NotEqual(0, code);
        Assert.Contains("fetch.sh", h.Err.ToString() + File.ReadAllText(Directory.GetFiles(h.Dir.Path, "error.log", SearchOption.AllDirectories).Single()));
    }

    [Fact]
    public async Task Bench_checkpoint_sizes_are_checked()
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "models", "--preset", "tiny", "--checkpoint", "7b"));
        Assert.Contains("7b", h.Err.ToString());
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "parity", "--preset", "tiny", "--checkpoint", "none"));
        Assert.Contains("bench parity needs a model", h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
        Assert.Equal(1_100_048_384, ParameterAccounting.Count(BenchCheckpoints.Config("1b")!).Total);   // TinyLlama-1.1B
        Assert.Equal(105_788_160, ParameterAccounting.Count(BenchCheckpoints.Config("100m")!).Total);
    }

    [Fact]
    public async Task A_bad_define_exits_2_and_creates_nothing()
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "models", "--preset", "tiny", "-D", "distill.mimic.d2d-epoch=3"));
        Assert.Contains("did you mean distill.mimic.d2d-epochs?", h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
    }

    [Fact]
    public async Task Bad_bench_options_exit_2()
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "models", "--preset", "tiny", "--repeats", "0"));
        Assert.Contains("--repeats must be at least 1", h.Err.ToString());
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench"));
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
    }

    [Fact]
    public void The_workload_has_the_pipelines_vocabulary_and_median_lengths()
    {
        using var dir = new TempDir();
        var settings = Cfg.Load("tiny").Settings;
        var workload = ShapesWorkload.Of(settings, batch: 3, decodeSteps: 5);
        ShapesGenerator.Write(StageCatalog.ShapesOptionsOf(settings), dir.Path);
        var samples = ShapesDataset.ReadSplit(dir.Path, "train");
        var tokenizer = WordTokenizer.Build(ShapesCorpus.Texts(samples));

        Assert.Equal(tokenizer.VocabSize, workload.VocabSize);
        Assert.Equal(tokenizer.ImageId, workload.ImageTokenId);
        Assert.Equal(ShapesWorkload.Median(samples.Select(s => ChatTemplate.EncodePrompt(tokenizer, s.Question, 0).Length)), workload.PromptTextTokens);
        Assert.Equal(ShapesWorkload.Median(samples.Select(s => tokenizer.Encode(s.Answer).Length + 1)), workload.AnswerTokens);
        Assert.Equal((3, 5, 16), (workload.Batch, workload.DecodeSteps, workload.ImageTokens));
        Assert.Equal(workload.ImageTokens + workload.PromptTextTokens, workload.PromptTokens);
    }

    [Fact]
    public void Mod_layers_medians_and_comparisons()
    {
        Assert.Equal([0], ModelBench.ModLayers(1));
        Assert.Equal([1, 2, 3], ModelBench.ModLayers(4));
        Assert.Equal(2.5, ModelBench.Median([4, 1, 3, 2]));
        Assert.Equal(3, ModelBench.Median([5, 3, 1]));
        Assert.Equal(2, ShapesWorkload.Median([3, 1, 2, 4]));

        static ModelBenchRow Row(string name, string kind, double? skip, long flops, long decoder, double forwardMs, double prefillMs, double decodeMs) =>
            new(name, kind, skip, "x", 1, 1, flops, decoder, 1, 1, forwardMs, 1, 1, prefillMs, decodeMs);
        var rows = ModelBench.Compare(
        [
            Row("student-dense", "dense", null, 100, 50, 10, 1, 1),
            Row("student-moe", "moe", null, 150, 100, 20, 1, 1),
            Row("student-mod-0", "mod", 0, 100, 60, 8, 4, 2) with { BatchPrefillMs = 30 },
            Row("student-mod-50", "mod", 0.5, 80, 40, 4, 2, 1) with { BatchPrefillMs = 20 },
        ]);
        Assert.Null(rows[0].MoeOverhead);
        Assert.Equal(2.0 / 1.5, rows[1].MoeOverhead!.Value, 12);                 // time x2 for FLOPs x1.5
        Assert.Equal(1.0, rows[2].ModForwardSpeedup);
        Assert.Equal((2.0, 2.0, 2.0, 1.25, 1.5),
            (rows[3].ModForwardSpeedup!.Value, rows[3].ModPrefillSpeedup!.Value, rows[3].ModDecodeSpeedup!.Value,
             rows[3].ModFlopReduction!.Value, rows[3].ModDecoderFlopReduction!.Value));
        Assert.Equal(1.5, rows[3].ModBatchPrefillSpeedup!.Value, 12);
        Assert.Null(rows[0].ModBatchPrefillSpeedup);
    }
}
