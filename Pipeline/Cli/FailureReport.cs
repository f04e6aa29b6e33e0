using System.Globalization;
using System.Text;
using Distill.Actors.Messages;
using Distill.Pipeline.Composition;
using Distill.Pipeline.Runs;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Cli;

/// <summary>The one writer of a run's <c>logs/error.log</c>, and of what the console says about a failure.
/// <para>Every failure of a run is appended as one entry (never truncating earlier ones), in one write, flushed to
/// disk, as <see cref="ErrorLogEntry"/> lays it out (for an exception the full text is its
/// <see cref="Exception.ToString"/>: type, message, stack, inner exceptions). The console (stderr) gets <c>distill: VERB failed in stage S: MESSAGE</c> and
/// <c>  details: PATH</c>; should the log not be writable, the full text goes to the console instead.</para>
/// <para>Cases: a stage's failure (<see cref="StageFailed"/>), an exception out of a verb or of the start-up before the
/// stages (<see cref="ExceptionFailed"/>, the stage being the step it escaped from, see <see cref="StartupStep"/>),
/// Ctrl-C / SIGTERM (<see cref="Interrupted"/>), and, while <see cref="Watch"/> is on, an unhandled exception anywhere
/// in the process and an exit forced before an interrupted run stopped (the termination timeout).</para></summary>
public sealed class FailureReport
{
    public const string FileName = ErrorLogEntry.FileName;

    /// <summary>Environment variable run.sh sets to a file name; the run's directory is written to that file as soon as
    /// it exists, so run.sh can add an entry when the process dies of a signal it cannot handle.</summary>
    public const string RunDirFileVariable = "DISTILL_RUN_DIR_FILE";

    /// <summary>The stage of a failure before any stage of this run started.</summary>
    public const string StartupStage = "(startup)";

    private static readonly object Gate = new();

    private readonly RunPaths _paths;
    private readonly TextWriter _console;
    private readonly TimeProvider _time;
    private readonly DateTime _startedUtc = DateTime.UtcNow;
    private int _interruptedWritten;

    public FailureReport(RunPaths paths, TextWriter console, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(paths);
        ArgumentNullException.ThrowIfNull(console);
        _paths = paths;
        _console = console;
        _time = time ?? TimeProvider.System;
        LogPath = Path.Combine(paths.Logs, FileName);
    }

    /// <summary><c>&lt;run&gt;/logs/error.log</c>.</summary>
    public string LogPath { get; }

    /// <summary>Tells run.sh (through <see cref="RunDirFileVariable"/>, when set) where the run directory is.</summary>
    public static void TellRunScript(RunPaths paths)
    {
        var file = Environment.GetEnvironmentVariable(RunDirFileVariable);
        if (string.IsNullOrWhiteSpace(file)) return;
        try
        {
            File.WriteAllText(file, paths.Root + "\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // run.sh then cannot name the run in a crash entry; the run itself goes on.
        }
    }

    /// <summary>A stage failed (<see cref="RunFailure"/>): entry and console lines; returns <see cref="ExitCodes.RunFailed"/>.</summary>
    public int StageFailed(string verb, RunFailure failure)
    {
        ArgumentNullException.ThrowIfNull(failure);
        var text = failure.Detail?.Text ?? $"{failure.Error}\n(no exception: the stage ended with this error)";
        Report(verb, failure.Stage, failure.Detail?.Type ?? "error", failure.Error, text);
        return ExitCodes.RunFailed;
    }

    /// <summary>An exception ended the verb: the stage is the step it escaped from (<see cref="StartupStep"/>), else
    /// the stage running now (from the ledger), else <paramref name="fallbackStage"/> or <see cref="StartupStage"/>.
    /// Returns <see cref="ExitCodes.RunFailed"/>.</summary>
    public int ExceptionFailed(string verb, Exception e, string? fallbackStage = null)
    {
        ArgumentNullException.ThrowIfNull(e);
        var stage = StartupStep.Of(e) is { } step ? $"({step})" : fallbackStage ?? StageNow();
        Report(verb, stage, e.GetType().FullName ?? e.GetType().Name, ErrorDetail.OneLine(e), e.ToString());
        return ExitCodes.RunFailed;
    }

    /// <summary>Ctrl-C / SIGTERM stopped the run in <paramref name="stage"/>: an entry saying so and how to resume, and the
    /// console line; returns <see cref="ExitCodes.Cancelled"/>.</summary>
    public int Interrupted(string stage)
    {
        Interlocked.Exchange(ref _interruptedWritten, 1);
        var root = _paths.Root;
        var message = $"the run was interrupted (Ctrl-C or SIGTERM) in stage {stage}";
        var text = $"{message}.\nFinished stages are kept in {root}; {stage} did not finish and runs again when the run is " +
                   "resumed (from its saved training state, if it has one).\n" +
                   $"Resume: run again with the same options and --run {root}, for example (this run's settings exactly):\n" +
                   $"  ./run.sh run --config {_paths.ResolvedConfig} --run {root}";
        var written = Append(stage, "interrupted", message, text);
        _console.WriteLine($"distill: cancelled in stage {stage}; finished stages are kept in {root} (run again with --run {root} to resume)");
        _console.WriteLine(written is null ? $"  details: {LogPath}" : $"  details: (could not write {LogPath}: {written})");
        return ExitCodes.Cancelled;
    }

    /// <summary>While the returned handle lives: an unhandled exception anywhere in the process is appended before the
    /// process dies, and a process exit while <paramref name="ct"/> is cancelled but before <see cref="Interrupted"/>
    /// was written (the pipeline did not stop within the termination timeout) still leaves an interrupted entry.</summary>
    public IDisposable Watch(string verb, CancellationToken ct) => new Watcher(this, verb, ct);

    /// <summary>The stage this run is in, from the ledger: the last stage this run started, while it has neither completed
    /// nor failed (or was just cancelled); <see cref="StartupStage"/> before any; <c>(after stage S)</c> between stages
    /// and after the last.</summary>
    public string StageNow()
    {
        try
        {
            var mine = new RunLedger(_paths.Ledger).ReadAll().Where(e => e.TimeUtc >= _startedUtc).ToList();
            if (mine.Count == 0) return StartupStage;
            var last = mine[^1];
            return last.Status == RunLedgerStatus.Started || last is { Status: RunLedgerStatus.Failed, Error: "cancelled" }
                ? last.Stage
                : $"(after stage {last.Stage})";
        }
        catch (Exception e) when (e is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return "(unknown: the ledger cannot be read)";
        }
    }

    private void Report(string verb, string stage, string kind, string message, string text)
    {
        var problem = Append(stage, kind, message, text);
        _console.WriteLine($"distill: {verb} failed in stage {stage}: {message}");
        if (problem is null)
        {
            _console.WriteLine($"  details: {LogPath}");
            return;
        }
        _console.WriteLine($"  details: (could not write {LogPath}: {problem}); the full text follows");
        _console.WriteLine(text);
    }

    /// <summary>Appends one entry in one write and flushes it to disk; null when written, else why not.</summary>
    private string? Append(string stage, string kind, string message, string text)
    {
        var entry = new ErrorLogEntry(_time.GetUtcNow().UtcDateTime, stage, kind, ErrorDetail.FirstLine(message)).Format(text);
        var bytes = Encoding.UTF8.GetBytes(entry);
        try
        {
            lock (Gate)
            {
                Directory.CreateDirectory(_paths.Logs);
                using var stream = new FileStream(LogPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite);
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return e.Message;
        }
    }

    private sealed class Watcher : IDisposable
    {
        private readonly FailureReport _report;
        private readonly string _verb;
        private readonly CancellationToken _ct;
        private int _disposed;

        public Watcher(FailureReport report, string verb, CancellationToken ct)
        {
            _report = report;
            _verb = verb;
            _ct = ct;
            AppDomain.CurrentDomain.UnhandledException += OnUnhandled;
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        }

        private void OnUnhandled(object? sender, UnhandledExceptionEventArgs e)
        {
            if (Volatile.Read(ref _disposed) != 0) return;
            try
            {
                var stage = _report.StageNow();
                var text = (e.ExceptionObject?.ToString() ?? "(no exception object)") +
                           (e.IsTerminating ? "\nThe process ends here (an unhandled exception)." : "");
                var ex = e.ExceptionObject as Exception;
                _report.Report(_verb, stage, ex?.GetType().FullName ?? "unhandled",
                    "unhandled exception: " + (ex is null ? "(not an Exception)" : ErrorDetail.OneLine(ex)), text);
            }
            catch
            {
                // Never throw from here: the process is already going down.
            }
        }

        private void OnProcessExit(object? sender, EventArgs e)
        {
            if (Volatile.Read(ref _disposed) != 0 || !_ct.IsCancellationRequested) return;
            if (Volatile.Read(ref _report._interruptedWritten) != 0) return;
            try
            {
                _report.Interrupted(_report.StageNow());
            }
            catch
            {
                // As above.
            }
        }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
            AppDomain.CurrentDomain.UnhandledException -= OnUnhandled;
            AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        }
    }
}
