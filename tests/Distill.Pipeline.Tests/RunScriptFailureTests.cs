using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Distill.Actors;
using Distill.Pipeline.Cli;

namespace Distill.Pipeline.Tests;

/// <summary><c>./run.sh run</c> runs the binary as its child: a run that dies of a signal it cannot handle still leaves
/// an entry in its <c>logs/error.log</c> (run.sh notices the death and writes it), and Ctrl-C to run.sh still reaches
/// the run. The real binary with the existing Release build (DISTILL_NO_BUILD=1), on the tiny preset with a very small
/// dataset, killed by a fault drill (<see cref="FaultDrills"/>) as its only stage starts, or interrupted in it.</summary>
public sealed partial class RunScriptFailureTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromMinutes(3);

    /// <param name="drill">fault drill variable set to <paramref name="stage"/>; null for none.</param>
    /// <param name="whileRunning">called once the ledger records the stage's start, with run.sh's process id.</param>
    private static (int Exit, string Output) RunScript(string runDir, string? drill, string stage, int trainScenes = 8,
        Action<int>? whileRunning = null)
    {
        // Through env --default-signal=INT: a test host started in the background of a non-interactive shell inherits
        // SIGINT ignored, and bash can neither trap nor reset a signal ignored at its entry, so Ctrl-C would not reach
        // run.sh at all; a user's terminal never starts it so.
        var start = new ProcessStartInfo("env")
        {
            WorkingDirectory = Repo.Root(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in (string[])["--default-signal=INT", "bash", Path.Combine(Repo.Root(), "run.sh"), "run", "--preset", "tiny", "--run", runDir,
                     "-D", $"distill.data.train-scenes={trainScenes}", "-D", "distill.data.labelled-images=2", "-D", "distill.data.val-scenes=4", "-D", "distill.data.test-scenes=4",
                     "-D", $"distill.stages=[{stage}]"])
            start.ArgumentList.Add(arg);
        start.Environment["DISTILL_NO_BUILD"] = "1";
        if (drill is not null) start.Environment[drill] = stage;
        var output = new StringBuilder();
        using var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (whileRunning is not null)
        {
            var ledger = Path.Combine(runDir, "ledger.jsonl");
            var clock = Stopwatch.StartNew();
            while (!(File.Exists(ledger) && File.ReadAllText(ledger).Contains($"\"stage\":\"{stage}\",\"status\":\"started\"")))
            {
                if (process.HasExited || clock.Elapsed > Limit)
                    throw new Xunit.Sdk.XunitException($"stage {stage} never started:\n{output}");
                Thread.Sleep(50);
            }
            whileRunning(process.Id);
        }
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"run.sh did not end within {Limit}:\n{output}");
        }
        process.WaitForExit(); // drains the output
        lock (output) return (process.ExitCode, output.ToString());
    }

    [GeneratedRegex(@"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] stage (?<stage>.+?) \| (?<kind>.+?) \| (?<message>.+)$")]
    private static partial Regex Header();

    /// <summary>The header lines of the log's entries, parsed.</summary>
    private static IReadOnlyList<Match> Entries(string log) =>
        File.ReadAllLines(log).Select(l => Header().Match(l)).Where(m => m.Success).ToList();

    [Fact]
    public void A_process_aborted_in_a_stage_gets_an_entry_from_run_sh_with_the_signal_and_its_last_words()
    {
        using var dir = new TempDir();
        var runDir = Path.Combine(dir.Path, "run");

        var (exit, output) = RunScript(runDir, FaultDrills.AbortStageVariable, "teacher");

        Assert.True(exit == 134, $"run.sh exited {exit}:\n{output}"); // 128 + SIGABRT, passed on
        var log = Path.Combine(runDir, "logs", FailureReport.FileName);
        var entry = Assert.Single(Entries(log)); // the process itself wrote none: it could not
        Assert.Equal("teacher", entry.Groups["stage"].Value);
        Assert.Equal("signal SIGABRT", entry.Groups["kind"].Value);
        Assert.Equal("the process died of signal 6 (SIGABRT)", entry.Groups["message"].Value);
        var text = File.ReadAllText(log);
        Assert.Contains("The process could not report it itself; run.sh wrote this entry.", text);
        // The last lines of its standard error: the runtime's own report of the abort.
        Assert.Contains($"  fault drill: {FaultDrills.AbortStageVariable}=teacher aborts the process as stage teacher starts", text);
        Assert.Contains("at Distill.Actors.FaultDrills.AtStageStart", text);
        Assert.EndsWith("\n\n", text);
        Assert.Contains("distill: run failed in stage teacher: the process died of signal 6 (SIGABRT)", output);
        Assert.Contains($"  details: {log}", output);
    }

    [Fact]
    public void Ctrl_c_to_run_sh_reaches_the_run_which_stops_with_an_interrupted_entry_and_exit_130()
    {
        using var dir = new TempDir();
        var runDir = Path.Combine(dir.Path, "run");

        var (exit, output) = RunScript(runDir, drill: null, "teacher", trainScenes: 2000, whileRunning: pid =>
        {
            using var kill = Process.Start("kill", ["-INT", pid.ToString()]);
            kill.WaitForExit();
        });

        Assert.True(exit == 130, $"run.sh exited {exit}:\n{output}");
        var log = Path.Combine(runDir, "logs", FailureReport.FileName);
        var entry = Assert.Single(Entries(log));
        Assert.Equal(("teacher", "interrupted"), (entry.Groups["stage"].Value, entry.Groups["kind"].Value));
        Assert.Contains($"--run {runDir}", File.ReadAllText(log));
        Assert.Contains($"distill: cancelled in stage teacher; finished stages are kept in {runDir}", output);
    }

    [Fact]
    public void An_unhandled_exception_is_logged_by_the_process_before_it_dies_and_run_sh_adds_the_signal()
    {
        using var dir = new TempDir();
        var runDir = Path.Combine(dir.Path, "run");

        var (exit, output) = RunScript(runDir, FaultDrills.ThrowStageVariable, "teacher");

        Assert.True(exit == 134, $"run.sh exited {exit}:\n{output}"); // the runtime aborts after an unhandled exception
        var log = Path.Combine(runDir, "logs", FailureReport.FileName);
        var entries = Entries(log);
        Assert.Equal(2, entries.Count);
        // First the process's own entry, with the exception's stack ...
        Assert.Equal("teacher", entries[0].Groups["stage"].Value);
        Assert.Equal("System.InvalidOperationException", entries[0].Groups["kind"].Value);
        Assert.StartsWith($"unhandled exception: fault drill: {FaultDrills.ThrowStageVariable}=teacher throws this", entries[0].Groups["message"].Value);
        var text = File.ReadAllText(log);
        Assert.Contains("at Distill.Actors.FaultDrills", text);
        Assert.Contains("The process ends here (an unhandled exception).", text);
        // ... then run.sh's, after it.
        Assert.Equal(("teacher", "signal SIGABRT"), (entries[1].Groups["stage"].Value, entries[1].Groups["kind"].Value));
        Assert.Contains("The process wrote an entry of its own before it died (above); run.sh wrote this one.", text);
        Assert.True(text.IndexOf("The process ends here", StringComparison.Ordinal) < text.IndexOf("signal SIGABRT", StringComparison.Ordinal));
        Assert.Contains("distill: run failed in stage teacher: unhandled exception: fault drill:", output);
    }
}
