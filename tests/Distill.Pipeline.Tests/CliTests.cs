using Distill.Pipeline.Cli;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Tests;

public class CliTests
{

    [Fact]
    public async Task Configuration_errors_exit_2_print_all_errors_and_do_no_work()
    {
        using var h = new CliHarness();
        var code = await h.Run("run", "-D", "distill.mimic.d2d-epoch=3", "-Ddistill.mimic.scope=everything", "--config", "missing.conf");
        Assert.Equal(2, code);
        var err = h.Err.ToString();
        Assert.Contains("3 configuration errors", err);
        Assert.Contains("did you mean distill.mimic.d2d-epochs?", err);
        Assert.Contains("'everything'", err);
        Assert.Contains("missing.conf", err);
        Assert.Null(h.Settings);
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
    }

    [Fact]
    public async Task Run_builds_settings_and_run_directory_then_calls_the_pipeline()
    {
        using var h = new CliHarness();
        h.Body = (progress, _) =>
        {
            progress.Report(new StageProgress("mimic", "distill", 4, 4, 10, 0.5));
            return Task.FromResult(0);
        };
        var code = await h.Run("run", "--preset", "tiny", "-D", "distill.mimic.d2d-epochs=2", "--run", "r1");
        Assert.Equal(0, code);
        Assert.Equal(2, h.Settings!.Mimic.D2dEpochs);
        Assert.Equal(32, h.Settings.Data.ImageSize);
        Assert.Equal(Path.Combine(h.Dir.Path, "r1"), h.Paths!.Root);
        Assert.Equal(h.Paths.Root, h.Settings.RunDir);
        Assert.Contains("d2d-epochs = 2  # -D distill.mimic.d2d-epochs=2", File.ReadAllText(h.Paths.ResolvedConfig));
        Assert.Equal(3, File.ReadAllLines(h.Paths.Metrics).Length); // header + samples_per_s + loss
        Assert.Contains("[mimic] distill  4/4", h.Out.ToString());
        Assert.Contains("report " + h.Paths.Report, h.Out.ToString());
    }

    [Fact]
    public async Task No_verb_runs_the_demo_preset()
    {
        using var h = new CliHarness();
        Assert.Equal(0, await h.Run());
        Assert.Equal(48, h.Settings!.Data.ImageSize);
        Assert.EndsWith("-demo", h.Paths!.Root);
        Assert.Equal(Path.Combine(h.Dir.Path, "runs"), Path.GetDirectoryName(h.Paths.Root));
    }

    [Fact]
    public async Task Pipeline_failure_exits_1_and_logs_the_exception()
    {
        using var h = new CliHarness();
        h.Body = (_, _) => throw new InvalidDataException("shard 7 is corrupt");
        Assert.Equal(1, await h.Run("run", "--preset", "tiny"));
        var log = Path.Combine(h.Paths!.Logs, "error.log");
        Assert.Contains("distill: run failed in stage (startup): shard 7 is corrupt", h.Err.ToString());
        Assert.Contains($"  details: {log}", h.Err.ToString());
        var lines = File.ReadAllLines(log);
        Assert.Equal("[2025-02-03T04:05:06.000Z] stage (startup) | System.IO.InvalidDataException | shard 7 is corrupt", lines[0]);
        Assert.Equal("System.IO.InvalidDataException: shard 7 is corrupt", lines[1]);
        Assert.Contains(lines, l => l.TrimStart().StartsWith("at ", StringComparison.Ordinal)); // the stack
    }

    [Fact]
    public async Task The_cli_runs_the_real_host_on_the_tiny_preset()
    {
        using var h = new CliHarness();
        var env = h.Env with { Runner = PipelineHost.RunAsync };
        Assert.Equal(0, await DistillCli.InvokeAsync(["run", "--preset", "tiny"], env));
        Assert.NotEmpty(Directory.EnumerateFiles(h.Dir.Path, "report.md", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Cancellation_stops_the_run_cleanly()
    {
        using var h = new CliHarness();
        using var cts = new CancellationTokenSource();
        h.Body = async (_, ct) =>
        {
            await cts.CancelAsync();
            await Task.Delay(Timeout.Infinite, ct);
            return 0;
        };
        Assert.Equal(ExitCodes.Cancelled, await DistillCli.InvokeAsync(["run", "--preset", "tiny"], h.Env, cts.Token));
        Assert.Contains("cancelled", h.Err.ToString());
        // Before any stage started: the entry says so.
        Assert.StartsWith("[2025-02-03T04:05:06.000Z] stage (startup) | interrupted | the run was interrupted (Ctrl-C or SIGTERM) in stage (startup)\n",
            File.ReadAllText(Path.Combine(h.Paths!.Logs, "error.log")));
    }

    [Fact]
    public async Task Help_lists_verbs_and_bad_arguments_exit_2()
    {
        using var h = new CliHarness();
        Assert.Equal(0, await h.Run("--help"));
        Assert.Contains("run", h.Out.ToString());
        Assert.Contains("replay", h.Out.ToString());
        Assert.Contains("cache", h.Out.ToString());
        Assert.Contains("node", h.Out.ToString());

        Assert.Equal(2, await h.Run("run", "--bogus"));
        Assert.Contains("--bogus", h.Err.ToString());
        Assert.Null(h.Settings);
    }

    [Fact]
    public void Java_style_defines_are_split()
    {
        Assert.Equal(["run", "-D", "distill.seed=3", "-D", "distill.mimic.epochs=1"],
            DistillCli.NormaliseDefines(["run", "-Ddistill.seed=3", "-D", "distill.mimic.epochs=1"]));
    }
}
