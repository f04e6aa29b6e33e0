using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Distill.Pipeline.Configuration;

using Distill.Stages.Workspace;

namespace Distill.Pipeline.Bench;

/// <summary>Options of <c>distill bench soak</c>.</summary>
public sealed record SoakOptions
{
    public const string DefaultPreset = "tiny";
    public const int DefaultRuns = 20;

    /// <summary>Run i (from 1) gets <c>distill.seed = base + i</c>: 1001, 1002, ...</summary>
    public const int DefaultBaseSeed = 1000;

    /// <summary>The layers every run resolves (its <see cref="ConfigSources.RunDir"/> is the soak's directory).</summary>
    public ConfigSources Sources { get; init; } = new() { Preset = DefaultPreset };

    public int Runs { get; init; } = DefaultRuns;
    public int BaseSeed { get; init; } = DefaultBaseSeed;

    public int SeedOf(int run) => BaseSeed + run;

    /// <summary>What is wrong with the options, one message per problem naming the option; empty when they are fine.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Runs < 1) errors.Add($"--runs must be at least 1, got {Runs}.");
        if (BaseSeed < 0) errors.Add($"--seed must be at least 0, got {BaseSeed}.");
        else if (Runs >= 1 && (long)BaseSeed + Runs > int.MaxValue)
            errors.Add($"--seed {BaseSeed} with --runs {Runs} takes distill.seed past {int.MaxValue}.");
        if (Sources.Overrides.FirstOrDefault(d => Soak.KeyOf(d) == Soak.SeedKey) is { } define)
            errors.Add($"-D {define}: the soak sets {Soak.SeedKey} of every run (--seed BASE gives run i the seed BASE + i).");
        return errors;
    }
}

/// <summary>One pipeline run of a soak, as it ended. <see cref="FailedStage"/> is empty when it passed or when no stage
/// had started; <see cref="Log"/> is where the details of a failure are (null when it passed).</summary>
public sealed record SoakRun(int Run, int Seed, string Directory, int ExitCode, double Seconds, string FailedStage, string Error, string? Log)
{
    public bool Passed => ExitCode == 0;
    public string Stdout => Soak.StdoutOf(Directory);
    public string Stderr => Soak.StderrOf(Directory);
}

/// <summary>Everything a soak ran, with how.</summary>
/// <param name="Command">the command line of a run, with <c>&lt;dir&gt;</c> and <c>&lt;seed&gt;</c> in place of its
/// directory and seed.</param>
public sealed record SoakResult(
    string Preset,
    IReadOnlyList<string> Stages,
    int BaseSeed,
    string Command,
    DateTimeOffset Started,
    string LoadAtStart,
    string LoadAtEnd,
    IReadOnlyList<SoakRun> Runs)
{
    public int Passed => Runs.Count(r => r.Passed);
    public int Failed => Runs.Count - Passed;

    /// <summary><c>soak: N runs, N passed, N failed</c>.</summary>
    public string Summary => $"soak: {Runs.Count} runs, {Passed} passed, {Failed} failed";
}

/// <summary><c>distill bench soak</c> (issue 11, item 3): the pipeline of a preset N times in a row, each run a child
/// process (<c>dotnet distill.dll run --preset P --run DIR -D distill.seed=S ...</c>) with a seed of its own and its own
/// run directory, so that a run that crashes, even natively (an abort, a segfault), ends only that run. Records each
/// run's exit code, wall time, stdout and stderr, and for a failure the stage and the error (<see cref="SoakFailure"/>).</summary>
public static class Soak
{
    public const string SeedKey = "distill.seed";
    public const string StdoutFile = "stdout.log";
    public const string StderrFile = "stderr.log";

    /// <summary>How long a cancelled run gets to stop after SIGTERM before it is killed.</summary>
    public static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(10);

    /// <summary>Where the soak writes its files in its directory, and its runs below that.</summary>
    public static string OutputDir(string root) => Path.Combine(root, "bench");

    public static string RunsDir(string root) => Path.Combine(OutputDir(root), "soak");

    /// <summary><c>bench/soak/run-01</c>, ...: as many digits as the last run has, at least two.</summary>
    public static string RunDir(string root, int run, int runs) =>
        Path.Combine(RunsDir(root), "run-" + run.ToString(CultureInfo.InvariantCulture).PadLeft(Math.Max(2, runs.ToString(CultureInfo.InvariantCulture).Length), '0'));

    public static string StdoutOf(string runDir) => Path.Combine(runDir, StdoutFile);
    public static string StderrOf(string runDir) => Path.Combine(runDir, StderrFile);

    /// <summary>The key of a <c>-D key=value</c> override.</summary>
    public static string KeyOf(string define)
    {
        var eq = define.IndexOf('=');
        return (eq < 0 ? define : define[..eq]).Trim();
    }

    /// <summary>The arguments after <see cref="DistillCommand.Prefix"/> of one run: the verb, the soak's preset and
    /// configuration file (made absolute), every <c>-D</c> of the soak in order, then the run's seed.</summary>
    public static IReadOnlyList<string> RunArguments(ConfigSources sources, string preset, string runDir, string seed)
    {
        var args = new List<string> { "run", "--preset", preset, "--run", runDir };
        if (!string.IsNullOrEmpty(sources.ConfigFile)) args.AddRange(["--config", Path.GetFullPath(sources.ConfigFile)]);
        foreach (var define in sources.Overrides) args.AddRange(["-D", define]);
        args.AddRange(["-D", $"{SeedKey}={seed}"]);
        return args;
    }

    /// <summary>Runs the soak into <paramref name="root"/>'s <c>bench/soak/</c> (replaced), calling
    /// <paramref name="finished"/> after each run.</summary>
    /// <param name="workingDirectory">of every run (where relative paths in its overrides resolve); null = the current one.</param>
    public static async Task<SoakResult> RunAsync(SoakOptions options, LoadedConfiguration config, string root, DistillCommand command,
        string? workingDirectory, TimeProvider time, Action<SoakRun> finished, CancellationToken ct)
    {
        var runsDir = RunsDir(root);
        if (Directory.Exists(runsDir)) Directory.Delete(runsDir, recursive: true); // an old run would be resumed, not run
        Directory.CreateDirectory(runsDir);
        var started = time.GetUtcNow();
        var load = MachineInfo.LoadAverage();
        var runs = new List<SoakRun>();
        for (var i = 1; i <= options.Runs; i++)
        {
            ct.ThrowIfCancellationRequested();
            var dir = RunDir(root, i, options.Runs);
            var seed = options.SeedOf(i);
            var args = RunArguments(options.Sources, config.Preset, dir, seed.ToString(CultureInfo.InvariantCulture));
            var (exitCode, seconds) = await RunChildAsync(command, args, dir, workingDirectory, time, ct);
            var run = new SoakRun(i, seed, dir, exitCode, seconds, "", "", null);
            if (exitCode != 0)
            {
                var failure = SoakFailure.Describe(exitCode, dir);
                run = run with { FailedStage = failure.Stage, Error = failure.Message, Log = failure.Log };
            }
            runs.Add(run);
            finished(run);
        }
        var described = command.Describe(RunArguments(options.Sources, config.Preset, "<dir>", "<seed>"));
        return new SoakResult(config.Preset, config.Settings.Stages, options.BaseSeed, described, started, load, MachineInfo.LoadAverage(), runs);
    }

    /// <summary>Runs one child process in <paramref name="runDir"/> (created) with its stdout and stderr copied to
    /// <see cref="StdoutFile"/> and <see cref="StderrFile"/> there; returns its exit code (128 + N when signal N
    /// killed it) and wall time. On cancellation the child gets SIGTERM (it stops at a safe point), then is killed after
    /// <see cref="StopGrace"/>.</summary>
    public static async Task<(int ExitCode, double Seconds)> RunChildAsync(DistillCommand command, IReadOnlyList<string> args, string runDir,
        string? workingDirectory, TimeProvider time, CancellationToken ct)
    {
        OwnedFolder.Run.Claim(runDir); // marked as Distill's before its logs go in, so the child accepts it
        var start = new ProcessStartInfo(command.FileName)
        {
            WorkingDirectory = Path.GetFullPath(workingDirectory ?? Directory.GetCurrentDirectory()),
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in command.Prefix.Concat(args)) start.ArgumentList.Add(arg);

        await using var stdout = new FileStream(StdoutOf(runDir), FileMode.Create, FileAccess.Write, FileShare.Read);
        await using var stderr = new FileStream(StderrOf(runDir), FileMode.Create, FileAccess.Write, FileShare.Read);
        using var process = new Process { StartInfo = start };
        var began = time.GetTimestamp();
        process.Start();
        process.StandardInput.Close();
        var copies = Task.WhenAll(
            process.StandardOutput.BaseStream.CopyToAsync(stdout, CancellationToken.None),
            process.StandardError.BaseStream.CopyToAsync(stderr, CancellationToken.None));
        try
        {
            await process.WaitForExitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await StopAsync(process);
            throw;
        }
        var seconds = time.GetElapsedTime(began).TotalSeconds;
        try
        {
            // The pipes close with the process, unless something it started still holds them.
            await copies.WaitAsync(TimeSpan.FromSeconds(30), CancellationToken.None);
        }
        catch (TimeoutException)
        {
        }
        return (process.ExitCode, seconds);
    }

    private static async Task StopAsync(Process process)
    {
        try
        {
            if (process.HasExited) return;
            if (!OperatingSystem.IsWindows()) _ = Kill(process.Id, 15); // SIGTERM: the run cancels itself
            using var grace = new CancellationTokenSource(StopGrace);
            try
            {
                await process.WaitForExitAsync(grace.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // It has already gone.
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
