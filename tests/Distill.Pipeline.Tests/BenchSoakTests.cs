using System.Globalization;
using Distill.Pipeline.Bench;
using Distill.Pipeline.Cli;
using Distill.Pipeline.Reporting;
using Distill.Pipeline.Runs;
using Distill.Stages.Runs;
using Distill.Stages.Text;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill bench soak</c>: option validation, soaks of real child processes on a very small configuration
/// (the teacher stage alone on a few scenes: seconds per run), and how a failure is described from what a run left.
/// No timing is asserted.</summary>
public class BenchSoakTests
{
    private static readonly DateTimeOffset Now = new(2025, 4, 5, 6, 7, 8, TimeSpan.Zero);

    /// <summary>The teacher stage alone on 8 + 4 + 4 scenes.</summary>
    private static readonly string[] TeacherOnly =
    [
        "-D", "distill.stages=[teacher]", "-D", "distill.data.train-scenes=8", "-D", "distill.data.labelled-images=2", "-D", "distill.data.val-scenes=4", "-D", "distill.data.test-scenes=4",
    ];

    private static string DefaultRoot(CliHarness h) =>
        Path.Combine(h.Dir.Path, "runs", RunDirectory.DefaultName(Now, "tiny", BenchSoakVerb.RunLabel));

    private static List<Dictionary<string, string>> ReadCsv(string path)
    {
        var records = MetricsCsv.Records(File.ReadAllText(path)).Select(r => r.Fields).ToList();
        Assert.Equal(SoakReport.Columns, records[0]);
        return records.Skip(1).Select(f => SoakReport.Columns.Zip(f).ToDictionary(p => p.First, p => p.Second)).ToList();
    }

    [Theory]
    [InlineData("--runs", "0", "--runs")]
    [InlineData("--runs", "-3", "--runs")]
    [InlineData("--runs", "many", "--runs")]
    [InlineData("--seed", "-1", "--seed")]
    [InlineData("--seed", "2147483647", "--seed")]
    [InlineData("-D", "distill.seed=5", "distill.seed")]
    [InlineData("-D", "distill.parallelism.shard-size=0", "distill.parallelism.shard-size")]
    [InlineData("--preset", "no-such-preset", "no-such-preset")]
    public async Task A_bad_option_exits_2_naming_it_and_runs_nothing(string option, string value, string named)
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("bench", "soak", option, value));
        Assert.Contains(named, h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
        Assert.False(h.PipelineCalled);
    }

    [Fact]
    public void Options_validate_and_give_each_run_base_plus_i()
    {
        var options = new SoakOptions();
        Assert.Empty(options.Validate());
        Assert.Equal("tiny", options.Sources.Preset);
        Assert.Equal(20, options.Runs);
        Assert.Equal(1003, options.SeedOf(3));
        Assert.Contains("--runs", Assert.Single(new SoakOptions { Runs = 0 }.Validate()));
        Assert.Contains("--seed", Assert.Single(new SoakOptions { BaseSeed = int.MaxValue - 1, Runs = 2 }.Validate()));
        Assert.Empty(new SoakOptions { BaseSeed = int.MaxValue - 2, Runs = 2 }.Validate());
        Assert.Contains("--seed BASE", Assert.Single(new SoakOptions { Sources = new() { Overrides = [" distill.seed = 3"] } }.Validate()));
        Assert.Empty(new SoakOptions { Sources = new() { Overrides = ["distill.seeds=3", "distill.mod.seed=1"] } }.Validate());
    }

    [Fact]
    public void A_run_gets_the_soak_layers_its_directory_and_its_seed()
    {
        var sources = new Configuration.ConfigSources
        {
            Preset = "tiny", ConfigFile = "my.conf", Overrides = ["distill.stages=[teacher]", "distill.eval.batch-size=4"], RunDir = "/soak",
        };
        var args = Soak.RunArguments(sources, "tiny", "/x/run-01", "1001");
        Assert.Equal(["run", "--preset", "tiny", "--run", "/x/run-01", "--config", Path.GetFullPath("my.conf"),
            "-D", "distill.stages=[teacher]", "-D", "distill.eval.batch-size=4", "-D", "distill.seed=1001"], args);
        Assert.EndsWith("run-07", Soak.RunDir("/r", 7, 20));
        Assert.EndsWith("run-007", Soak.RunDir("/r", 7, 100));
    }

    [Fact]
    public async Task A_soak_of_two_passing_runs_records_each_with_its_own_seed_and_directory_and_exits_0()
    {
        using var h = new CliHarness(Now);
        var code = await h.Run(["bench", "soak", "--runs", "2", .. TeacherOnly]);
        Assert.True(code == 0, h.Err.ToString() + h.Out);
        Assert.False(h.PipelineCalled); // the runs are child processes, not the CLI's runner

        var root = DefaultRoot(h);
        Assert.EndsWith("-bench-soak-tiny", root);
        var rows = ReadCsv(Path.Combine(root, "bench", SoakReport.CsvFile));
        Assert.Equal(["1", "2"], rows.Select(r => r["run"]));
        Assert.Equal(["1001", "1002"], rows.Select(r => r["seed"]));
        foreach (var row in rows)
        {
            Assert.Equal("0", row["exit_code"]);
            Assert.Equal("", row["failed_stage"]);
            Assert.Equal("", row["error"]);
            Assert.True(double.Parse(row["seconds"], CultureInfo.InvariantCulture) >= 0);

            // Its own directory, with its output and the seed it was given.
            var dir = Soak.RunDir(root, int.Parse(row["run"], CultureInfo.InvariantCulture), 2);
            Assert.True(File.Exists(Path.Combine(dir, Soak.StdoutFile)));
            Assert.True(File.Exists(Path.Combine(dir, Soak.StderrFile)));
            Assert.Contains($"seed {row["seed"]}", File.ReadAllText(Path.Combine(dir, Soak.StdoutFile)));
            Assert.Contains($"seed = {row["seed"]}", File.ReadAllText(Path.Combine(dir, RunPaths.ResolvedConfigName)));
            Assert.True(new RunLedger(Path.Combine(dir, "ledger.jsonl")).IsCompleted("teacher"));
        }

        var output = h.Out.ToString();
        Assert.Contains("run 1/2 seed 1001: ok in", output);
        Assert.Contains("run 2/2 seed 1002: ok in", output);
        Assert.Contains("soak: 2 runs, 2 passed, 0 failed", output);
        var md = File.ReadAllText(Path.Combine(root, "bench", SoakReport.MarkdownFile));
        Assert.Contains("| 2 | 1002 | ok | 0 |", md);
        Assert.Contains("## Failures", md);
    }

    [Fact]
    public async Task A_run_that_fails_in_a_stage_is_reported_with_the_stage_and_error_and_the_soak_goes_on_and_exits_1()
    {
        using var h = new CliHarness(Now);
        // A teacher "checkpoint" with a config.json and a tokenizer but no weights: the configuration is valid, the
        // data is prepared, and the sft stage fails when it reads the teacher.
        var teacher = FakeTeacher.ConfigOnly(Path.Combine(h.Dir.Path, "fake-teacher"));
        WordTokenizer.Build(["a red square", "what colour is the circle?"]).Save(Path.Combine(teacher, "tokenizer.json"));
        var root = Path.Combine(h.Dir.Path, "soak");
        var code = await h.Run(["bench", "soak", "--runs", "2", "--seed", "40", "--run", root, .. TeacherOnly,
            "-D", "distill.stages=[sft]", "-D", $"distill.teacher.checkpoint={teacher}"]);
        Assert.Equal(ExitCodes.RunFailed, code);

        var rows = ReadCsv(Path.Combine(root, "bench", SoakReport.CsvFile));
        Assert.Equal(["41", "42"], rows.Select(r => r["seed"]));
        foreach (var row in rows)
        {
            Assert.Equal("1", row["exit_code"]);
            Assert.Equal("sft", row["failed_stage"]);
            Assert.Contains("model.safetensors", row["error"]);
            var runDir = Soak.RunDir(root, int.Parse(row["run"], CultureInfo.InvariantCulture), 2);
            Assert.Equal(Path.Combine(runDir, "logs", "error.log"), row["log"]); // the stage's stack is there
            Assert.Contains("stage sft | ", File.ReadAllText(row["log"]));
        }
        var output = h.Out.ToString();
        Assert.Contains("run 1/2 seed 41: FAILED (exit 1) in stage sft: ", output);
        Assert.Contains("run 2/2 seed 42: FAILED (exit 1) in stage sft: ", output);
        Assert.Contains("soak: 2 runs, 0 passed, 2 failed", output);
        var md = File.ReadAllText(Path.Combine(root, "bench", SoakReport.MarkdownFile));
        Assert.Contains("### Run 2 (seed 42)", md);
        Assert.Contains("model.safetensors", md);
    }

    [Fact]
    public async Task A_run_killed_by_a_signal_ends_only_that_run_and_is_reported_with_the_signal_and_its_stderr()
    {
        using var h = new CliHarness(Now);
        // The child is started through a script that aborts itself (SIGABRT, as a native assertion does) when given the
        // first run's seed, and runs distill otherwise.
        var script = h.Dir.File("crash-first.sh",
            "ulimit -c 0\n" +
            "case \" $* \" in *' distill.seed=1001 '*) echo 'native assertion failed: simulated' >&2; kill -ABRT $$ ;; esac\n" +
            "exec \"$@\"\n");
        var real = DistillCommand.ThisBinary();
        var env = h.Env with { DistillCommand = new DistillCommand("bash", [script, real.FileName, .. real.Prefix]) };
        var code = await DistillCli.InvokeAsync(["bench", "soak", "--runs", "2", .. TeacherOnly], env);
        Assert.Equal(ExitCodes.RunFailed, code);

        var root = DefaultRoot(h);
        var rows = ReadCsv(Path.Combine(root, "bench", SoakReport.CsvFile));
        Assert.Equal(2, rows.Count);
        Assert.Equal("134", rows[0]["exit_code"]);
        Assert.Equal("", rows[0]["failed_stage"]);
        Assert.StartsWith("killed by signal 6 (SIGABRT); stderr: native assertion failed: simulated", rows[0]["error"]);
        Assert.Equal(Path.Combine(Soak.RunDir(root, 1, 2), Soak.StderrFile), rows[0]["log"]);
        Assert.Equal("0", rows[1]["exit_code"]); // the soak went on, and the next run passed

        var output = h.Out.ToString();
        Assert.Contains("run 1/2 seed 1001: FAILED (exit 134): killed by signal 6 (SIGABRT)", output);
        Assert.Contains("run 2/2 seed 1002: ok in", output);
        Assert.Contains("soak: 2 runs, 1 passed, 1 failed", output);
        Assert.Contains("native assertion failed: simulated", File.ReadAllText(Path.Combine(root, "bench", SoakReport.MarkdownFile)));
    }

    // --- How a failure is described from what the run left ---------------------------------------------------------

    private static void Ledger(string dir, params RunLedgerEntry[] entries)
    {
        var ledger = new RunLedger(Path.Combine(dir, "ledger.jsonl"));
        foreach (var e in entries) ledger.Append(e);
    }

    private static RunLedgerEntry Entry(string stage, RunLedgerStatus status, string? error = null) =>
        new(stage, status, DateTime.UtcNow, Error: error);

    [Fact]
    public void A_failed_ledger_line_gives_the_stage_and_error()
    {
        using var dir = new TempDir();
        Ledger(dir.Path, Entry("teacher", RunLedgerStatus.Started), Entry("teacher", RunLedgerStatus.Completed),
            Entry("mod", RunLedgerStatus.Started), Entry("mod", RunLedgerStatus.Failed, "router exploded,\nbadly"));
        var (stage, message, log) = SoakFailure.Describe(1, dir.Path);
        Assert.Equal("mod", stage);
        Assert.Equal("router exploded, badly", message);
        Assert.Equal(Path.Combine(dir.Path, Soak.StdoutFile), log);
    }

    [Fact]
    public void A_native_crash_names_the_signal_the_stage_it_was_in_and_the_end_of_stderr()
    {
        using var dir = new TempDir();
        Ledger(dir.Path, Entry("teacher", RunLedgerStatus.Started), Entry("teacher", RunLedgerStatus.Completed), Entry("mod", RunLedgerStatus.Started));
        File.WriteAllText(Path.Combine(dir.Path, Soak.StderrFile), "one\n\ntwo\nAssertion `t.defined()' failed\nthree\n\n");
        var (stage, message, log) = SoakFailure.Describe(134, dir.Path);
        Assert.Equal("mod", stage);
        Assert.Equal("killed by signal 6 (SIGABRT); stderr: two | Assertion `t.defined()' failed | three", message);
        Assert.Equal(Path.Combine(dir.Path, Soak.StderrFile), log);
    }

    [Fact]
    public void An_error_log_gives_the_last_exception_and_a_crash_after_the_stages_says_so()
    {
        using var dir = new TempDir();
        Ledger(dir.Path, Entry("teacher", RunLedgerStatus.Started), Entry("teacher", RunLedgerStatus.Completed));
        Directory.CreateDirectory(Path.Combine(dir.Path, "logs"));
        var errorLog = Path.Combine(dir.Path, "logs", "error.log");
        File.WriteAllText(errorLog,
            "[2025-01-01T00:00:00.000Z] stage (startup) | System.InvalidOperationException | first\n" +
            "System.InvalidOperationException: first\n   at X.Y()\n\n" +
            "[2025-01-01T00:00:01.250Z] stage (writing the report) | System.IO.IOException | disk full: /tmp/x\n" +
            "System.IO.IOException: disk full: /tmp/x\n   at A.B() in /src/a.cs:line 3\n\n");
        var (stage, message, log) = SoakFailure.Describe(1, dir.Path);
        Assert.Equal("", stage);
        Assert.Equal("IOException: disk full: /tmp/x (writing the report) (after stage teacher completed)", message);
        Assert.Equal(errorLog, log);
    }

    [Fact]
    public void A_run_that_left_nothing_says_so_and_signals_are_named()
    {
        using var dir = new TempDir();
        var (stage, message, _) = SoakFailure.Describe(139, dir.Path);
        Assert.Equal("", stage);
        Assert.Equal("killed by signal 11 (SIGSEGV); nothing in the ledger, logs/error.log or stderr (before the first stage started)", message);
        Assert.Null(SoakFailure.SignalOf(1));
        Assert.Null(SoakFailure.SignalOf(128));
        Assert.Equal("signal 9 (SIGKILL)", SoakFailure.SignalOf(137));
        Assert.Equal("signal 40", SoakFailure.SignalOf(168));
    }

    [Fact]
    public void The_csv_quotes_errors_and_the_markdown_escapes_table_cells()
    {
        var runs = new List<SoakRun>
        {
            new(1, 1001, "/s/run-01", 0, 1.04, "", "", null),
            new(2, 1002, "/s/run-02", 1, 3, "mod", "bad \"value\", a | b", "/s/run-02/stdout.log"),
        };
        var result = new SoakResult("tiny", ["teacher", "mod"], 1000, "dotnet distill.dll run", Now, "1 1 1", "1 1 1", runs);
        var csv = SoakReport.ToCsv(result);
        var rows = MetricsCsv.Records(csv).Select(r => r.Fields).ToList();
        Assert.Equal(3, rows.Count);
        Assert.Equal(["2", "1002", "1", "3", "mod", "bad \"value\", a | b", "/s/run-02/stdout.log"], rows[2]);
        Assert.Equal("1.04", rows[1][3]);
        var md = SoakReport.ToMarkdown(result);
        Assert.Contains("| 2 | 1002 | FAILED | 1 | 3.0 | mod | bad \"value\", a \\| b |", md);
        Assert.Contains("soak: 2 runs, 1 passed, 1 failed", md);
        Assert.Equal("soak: 2 runs, 1 passed, 1 failed", result.Summary);
        Assert.Equal("run 1/2 seed 1001: ok in 1.0 s", SoakReport.Line(runs[0], 2));
        Assert.StartsWith("run 2/2 seed 1002: FAILED (exit 1) in stage mod: bad", SoakReport.Line(runs[1], 2));
    }
}
