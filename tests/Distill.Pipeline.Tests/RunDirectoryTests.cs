using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Tests;

public class RunDirectoryTests
{
    private static readonly DateTimeOffset Now = new(2025, 6, 7, 8, 9, 10, TimeSpan.Zero);

    [Fact]
    public void Default_run_directory_is_timestamped_under_runs_with_the_preset()
    {
        using var t = new TempDir();
        var (config, paths) = RunDirectory.Create(Cfg.Load("tiny"), Now, t.Path);
        var expected = Path.Combine(t.Path, "runs", RunDirectory.DefaultName(Now, "tiny"));
        Assert.Equal(expected, paths.Root);
        Assert.Matches(@"^\d{8}-\d{6}-tiny$", Path.GetFileName(paths.Root));
        Assert.Equal(Path.Combine(expected, "data"), paths.Data);
        Assert.Equal(Path.Combine(expected, "checkpoints"), paths.Checkpoints);
        Assert.Equal(Path.Combine(expected, "metrics.csv"), paths.Metrics);
        Assert.Equal(Path.Combine(expected, "ledger.jsonl"), paths.Ledger);
        Assert.Equal(Path.Combine(expected, "report.md"), paths.Report);
        Assert.Equal(Path.Combine(expected, "logs"), paths.Logs);
        Assert.True(Directory.Exists(paths.Checkpoints));
        Assert.True(Directory.Exists(paths.Logs));

        // The settings handed on carry the absolute directories, and so does the resolved config.
        Assert.Equal(paths.Root, config.Settings.RunDir);
        Assert.Equal(paths.Data, config.Settings.Data.Dir);
        var resolved = File.ReadAllText(paths.ResolvedConfig);
        Assert.Contains($"run-dir = \"{paths.Root}\"", resolved);
        Assert.Contains("image-size = 32  # preset tiny", resolved);

        // A second run in the same second does not reuse the directory.
        var (_, second) = RunDirectory.Create(Cfg.Load("tiny"), Now, t.Path);
        Assert.Equal(expected + "-2", second.Root);
    }

    [Fact]
    public void Explicit_run_and_data_directories_are_resolved_against_the_base()
    {
        using var t = new TempDir();
        var (config, paths) = RunDirectory.Create(Cfg.Load("demo", null, "distill.run-dir=out/r1", "distill.data.dir=shared/data"), Now, t.Path);
        Assert.Equal(Path.Combine(t.Path, "out", "r1"), paths.Root);
        Assert.Equal(Path.Combine(t.Path, "shared", "data"), paths.Data);
        Assert.Equal(paths.Data, config.Settings.Data.Dir);
        Assert.True(File.Exists(Path.Combine(paths.Root, "config.resolved.conf")));

        // An explicit directory is reused (resume), not suffixed.
        var (_, again) = RunDirectory.Create(Cfg.Load("demo", null, "distill.run-dir=out/r1"), Now, t.Path);
        Assert.Equal(paths.Root, again.Root);
    }
}
