using Distill.Pipeline.Cli;
using Distill.Pipeline.Reporting;
using Distill.Pipeline.Study;

namespace Distill.Pipeline.Tests;

/// <summary><c>distill study</c> with real child runs on a very small configuration (teacher and eval on a few
/// scenes: seconds per run), and a second invocation on the same directory that reads the finished seeds back.</summary>
public class StudyCliTests
{
    private static readonly DateTimeOffset Now = new(2025, 4, 5, 6, 7, 8, TimeSpan.Zero);

    private static readonly string[] Small =
    [
        "--preset", "tiny", "-D", "distill.stages=[teacher,eval]", "-D", "distill.data.train-scenes=8", "-D", "distill.data.labelled-images=2",
        "-D", "distill.data.val-scenes=4", "-D", "distill.data.test-scenes=4", "-D", "distill.eval.speed-prompts=0",
    ];

    [Fact]
    public async Task A_study_runs_each_seed_aggregates_their_figures_and_reads_finished_seeds_back()
    {
        using var h = new CliHarness(Now);
        var root = Path.Combine(h.Dir.Path, "study");
        var code = await h.Run(["study", "--seeds", "2", "--seed", "40", "--run", root, .. Small]);
        Assert.True(code == 0, h.Err.ToString() + h.Out);
        Assert.False(h.PipelineCalled);

        var figures = new[] { 40, 41 }.Select(s => RunFigures.Read(Path.Combine(SeedStudy.RunDir(root, s), RunFigures.File))).ToList();
        Assert.Contains("seed = 41", File.ReadAllText(Path.Combine(SeedStudy.RunDir(root, 41), "config.resolved.conf")));
        var teacher = figures.Select(f => f["teacher.overall"]).ToArray();
        var mean = teacher.Average();
        var std = Math.Abs(teacher[0] - teacher[1]) / Math.Sqrt(2);

        var csv = File.ReadAllLines(Path.Combine(root, StudyReport.CsvFile));
        Assert.Equal("key,mean,std,count,min,max,seed_40,seed_41", csv[0]);
        var row = csv.Single(l => l.StartsWith("teacher.overall,", StringComparison.Ordinal)).Split(',');
        Assert.Equal(mean, double.Parse(row[1], System.Globalization.CultureInfo.InvariantCulture), 12);
        Assert.Equal(std, double.Parse(row[2], System.Globalization.CultureInfo.InvariantCulture), 12);
        Assert.Equal("2", row[3]);

        var md = File.ReadAllText(Path.Combine(root, StudyReport.MarkdownFile));
        Assert.Contains("- Seeds: 40, 41 (2 finished, 0 failed)", md);
        Assert.Contains("## Targets", md);
        Assert.Contains($"| teacher | {mean * 100:0.0} ± {std * 100:0.0} |", md);
        Assert.True(new FileInfo(Path.Combine(root, StudyReport.PlotFile)).Length > 1000);
        Assert.Contains("seed 40: finished in", h.Out.ToString());

        // Again on the same directory: both seeds are read back, nothing runs.
        var log = Path.Combine(SeedStudy.RunDir(root, 40), "stdout.log");
        var written = File.GetLastWriteTimeUtc(log);
        using var again = new CliHarness(Now);
        Assert.Equal(0, await again.Run(["study", "--seeds", "2", "--seed", "40", "--run", root, .. Small]));
        Assert.Contains("seed 40: read back", again.Out.ToString());
        Assert.Contains("seed 41: read back", again.Out.ToString());
        Assert.Equal(written, File.GetLastWriteTimeUtc(log));
        Assert.Contains("| 40 | finished (read back) |", File.ReadAllText(Path.Combine(root, StudyReport.MarkdownFile)));
    }

    [Theory]
    [InlineData("--seeds", "1", "--seeds")]
    [InlineData("-D", "distill.seed=5", "distill.seed")]
    public async Task A_bad_option_exits_2_naming_it_and_runs_nothing(string option, string value, string named)
    {
        using var h = new CliHarness(Now);
        Assert.Equal(ExitCodes.ConfigurationError, await h.Run("study", option, value));
        Assert.Contains(named, h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(h.Dir.Path, "runs")));
    }
}
