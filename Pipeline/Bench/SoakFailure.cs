using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Distill.Pipeline.Runs;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Bench;

/// <summary>Why a soak run failed, from what it left in its run directory: the stage and error of a <c>failed</c>
/// ledger line; else the last exception in <c>logs/error.log</c> (a failure outside the stages); else the last lines of
/// its stderr (a crash: a native abort or segfault writes only there). The stage of a run that died without a failed
/// line is the one it had started and not finished. A run killed by a signal says which.</summary>
public static partial class SoakFailure
{
    /// <summary>Non-empty stderr lines a failure message quotes.</summary>
    public const int StderrTailLines = 3;

    /// <summary>Longest stderr line quoted in a failure message.</summary>
    public const int MaxQuotedLine = 300;

    /// <summary>The failure of the run in <paramref name="runDir"/> that exited with <paramref name="exitCode"/>: the
    /// stage (empty when none was running), a one-line message and the file with the details (logs/error.log when
    /// it exists; else stdout, where the stage's actor logged the exception, for a ledger failure; else stderr).</summary>
    public static (string Stage, string Message, string Log) Describe(int exitCode, string runDir)
    {
        var paths = RunPaths.For(runDir);
        var errorLog = Path.Combine(paths.Logs, "error.log");
        var ledger = ReadLedger(paths.Ledger);
        var failed = ledger.LastOrDefault(e => e.Status == RunLedgerStatus.Failed && !string.IsNullOrWhiteSpace(e.Error));
        var running = RunningStage(ledger);

        string message, log;
        if (failed is not null)
        {
            message = OneLine(failed.Error!);
            log = File.Exists(errorLog) ? errorLog : Soak.StdoutOf(runDir);
        }
        else
        {
            if (LastLoggedError(errorLog) is { } logged)
            {
                message = logged;
                log = errorLog;
            }
            else
            {
                var tail = StderrTail(Soak.StderrOf(runDir), StderrTailLines);
                message = tail.Count > 0 ? "stderr: " + string.Join(" | ", tail) : "nothing in the ledger, logs/error.log or stderr";
                log = Soak.StderrOf(runDir);
            }
            if (running is null)
            {
                var completed = ledger.LastOrDefault(e => e.Status == RunLedgerStatus.Completed);
                message += completed is null ? " (before the first stage started)" : $" (after stage {completed.Stage} completed)";
            }
        }
        if (SignalOf(exitCode) is { } signal) message = $"killed by {signal}; {message}";
        return (failed?.Stage ?? running ?? "", message, log);
    }

    /// <summary>"signal 6 (SIGABRT)" for exit codes 129 to 192: .NET (like a shell) reports a child that signal N
    /// killed as exit code 128 + N. (A process that exits with such a code by itself looks the same.)</summary>
    public static string? SignalOf(int exitCode)
    {
        if (exitCode is <= 128 or > 128 + 64) return null;
        var n = exitCode - 128;
        var name = n switch
        {
            1 => "SIGHUP", 2 => "SIGINT", 3 => "SIGQUIT", 4 => "SIGILL", 5 => "SIGTRAP", 6 => "SIGABRT", 7 => "SIGBUS",
            8 => "SIGFPE", 9 => "SIGKILL", 10 => "SIGUSR1", 11 => "SIGSEGV", 12 => "SIGUSR2", 13 => "SIGPIPE",
            14 => "SIGALRM", 15 => "SIGTERM",
            _ => null,
        };
        var number = n.ToString(CultureInfo.InvariantCulture);
        return name is null ? $"signal {number}" : $"signal {number} ({name})";
    }

    /// <summary>The stage the run had started last and neither completed nor failed; null when there is none.</summary>
    public static string? RunningStage(IReadOnlyList<RunLedgerEntry> ledger)
    {
        string? running = null;
        foreach (var entry in ledger)
        {
            if (entry.Status == RunLedgerStatus.Started) running = entry.Stage;
            else if (entry.Status is RunLedgerStatus.Completed or RunLedgerStatus.Failed && entry.Stage == running) running = null;
        }
        return running;
    }

    /// <summary>The headline of the last entry of the error log <paramref name="path"/>: "Type: message" (the type's
    /// short name, as the verbs print it) and the entry's stage when it names one; null when there is no entry.</summary>
    public static string? LastLoggedError(string path)
    {
        if (ErrorLogEntry.Last(path) is not { } entry) return null;
        var kind = entry.Kind.Contains('.') && !entry.Kind.Contains(' ') ? entry.Kind[(entry.Kind.LastIndexOf('.') + 1)..] : entry.Kind;
        var where = entry.Stage.StartsWith('(') ? $" {entry.Stage}" : $" in stage {entry.Stage}";
        return $"{kind}: {entry.Message}{where}";
    }

    /// <summary>The last <paramref name="lines"/> non-empty lines of <paramref name="path"/> (its last 64 KiB), each
    /// cut to <see cref="MaxQuotedLine"/> characters; empty when there is no such file.</summary>
    public static IReadOnlyList<string> StderrTail(string path, int lines)
    {
        if (!File.Exists(path)) return [];
        string text;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            const int window = 64 * 1024;
            if (stream.Length > window) stream.Seek(-window, SeekOrigin.End);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            text = reader.ReadToEnd();
        }
        return text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).TakeLast(lines)
            .Select(l => l.Length > MaxQuotedLine ? l[..MaxQuotedLine] + "..." : l).ToList();
    }

    private static IReadOnlyList<RunLedgerEntry> ReadLedger(string path)
    {
        try
        {
            return new RunLedger(path).ReadAll();
        }
        catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return []; // a damaged ledger: the failure is described from the other files
        }
    }

    private static string OneLine(string text) => WhiteSpace().Replace(text, " ").Trim();

    [GeneratedRegex(@"\s*[\r\n]+\s*")]
    private static partial Regex WhiteSpace();
}
