using System.Globalization;
using System.Text;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Bench;

/// <summary>Writes a <see cref="SoakResult"/> as <c>soak.csv</c> (one row per run) and <c>soak.md</c> (a table of the
/// runs, then every failure with its error, its files and the end of its stderr).</summary>
public static class SoakReport
{
    public const string CsvFile = "soak.csv";
    public const string MarkdownFile = "soak.md";

    /// <summary>The CSV columns, in order.</summary>
    public static readonly IReadOnlyList<string> Columns = ["run", "seed", "exit_code", "seconds", "failed_stage", "error", "log"];

    /// <summary>Lines of stderr the report shows for each failure.</summary>
    public const int StderrLines = 20;

    /// <summary>Writes both files into <paramref name="directory"/> (created); returns their paths.</summary>
    public static (string Csv, string Markdown) Write(string directory, SoakResult result) =>
        BenchFiles.Write(directory, CsvFile, ToCsv(result), MarkdownFile, ToMarkdown(result));

    public static string ToCsv(SoakResult result)
    {
        var s = new StringBuilder();
        s.Append(string.Join(",", Columns)).Append('\n');
        foreach (var r in result.Runs)
            s.Append(string.Join(",",
                I(r.Run), I(r.Seed), I(r.ExitCode), r.Seconds.ToString("0.###", CultureInfo.InvariantCulture),
                MetricsLog.CsvField(r.FailedStage), MetricsLog.CsvField(r.Error), MetricsLog.CsvField(r.Log ?? ""))).Append('\n');
        return s.ToString();
    }

    /// <summary>The console line of a finished run: <c>run 3/20 seed 1003: ok in 58 s</c>, or <c>FAILED (exit 134) in
    /// stage mod: ...</c> and a second line with its wall time and log.</summary>
    public static string Line(SoakRun run, int runs)
    {
        var head = $"run {I(run.Run)}/{I(runs)} seed {I(run.Seed)}: ";
        if (run.Passed) return head + $"ok in {Seconds(run.Seconds)} s";
        var where = run.FailedStage.Length > 0 ? $" in stage {run.FailedStage}" : "";
        return head + $"FAILED (exit {I(run.ExitCode)}){where}: {run.Error}" + Environment.NewLine +
               $"  after {Seconds(run.Seconds)} s; details: {run.Log}";
    }

    /// <summary>The summary line and one entry per failed run.</summary>
    public static string Summary(SoakResult result)
    {
        var s = new StringBuilder();
        s.AppendLine(result.Summary);
        foreach (var r in result.Runs.Where(r => !r.Passed))
        {
            var where = r.FailedStage.Length > 0 ? $" in stage {r.FailedStage}" : "";
            s.AppendLine($"  run {I(r.Run)} seed {I(r.Seed)}: exit {I(r.ExitCode)}{where}: {r.Error}");
            s.AppendLine($"    details: {r.Log}");
        }
        return s.ToString();
    }

    public static string ToMarkdown(SoakResult result)
    {
        var s = new StringBuilder();
        s.AppendLine($"# Soak: preset {result.Preset}, {I(result.Runs.Count)} runs");
        s.AppendLine();
        s.AppendLine($"{result.Summary}.");
        s.AppendLine();
        s.AppendLine($"- started {result.Started.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC on " +
                     $"{I(Environment.ProcessorCount)} cores; load average {result.LoadAtStart} at the start, {result.LoadAtEnd} at the end");
        s.AppendLine($"- stages {string.Join(" -> ", result.Stages)}; run i gets seed {I(result.BaseSeed)} + i");
        s.AppendLine($"- each run, a child process: `{result.Command}`");
        s.AppendLine();
        s.AppendLine("| run | seed | result | exit code | seconds | failed stage | error |");
        s.AppendLine("|---:|---:|---|---:|---:|---|---|");
        foreach (var r in result.Runs)
            s.AppendLine($"| {I(r.Run)} | {I(r.Seed)} | {(r.Passed ? "ok" : "FAILED")} | {I(r.ExitCode)} | {Seconds(r.Seconds)} | " +
                         $"{Cell(r.FailedStage)} | {Cell(r.Error)} |");

        var failed = result.Runs.Where(r => !r.Passed).ToList();
        s.AppendLine();
        s.AppendLine("## Failures");
        s.AppendLine();
        if (failed.Count == 0)
        {
            s.AppendLine("None.");
            s.AppendLine();
        }
        foreach (var r in failed)
        {
            s.AppendLine($"### Run {I(r.Run)} (seed {I(r.Seed)})");
            s.AppendLine();
            s.AppendLine($"- exit code {I(r.ExitCode)}{(SoakFailure.SignalOf(r.ExitCode) is { } signal ? $": {signal}" : "")}, after {Seconds(r.Seconds)} s");
            s.AppendLine($"- stage: {(r.FailedStage.Length > 0 ? r.FailedStage : "none running")}");
            s.AppendLine($"- error: {r.Error}");
            s.AppendLine($"- details: `{r.Log}`");
            s.AppendLine($"- run directory `{r.Directory}` (ledger.jsonl, logs/, {Soak.StdoutFile}, {Soak.StderrFile})");
            var tail = SoakFailure.StderrTail(r.Stderr, StderrLines);
            s.AppendLine();
            if (tail.Count == 0)
            {
                s.AppendLine("stderr was empty.");
            }
            else
            {
                s.AppendLine($"The end of stderr ({I(tail.Count)} non-empty lines):");
                s.AppendLine();
                s.AppendLine("```text");
                foreach (var line in tail) s.AppendLine(line.Replace("```", "'''"));
                s.AppendLine("```");
            }
            s.AppendLine();
        }

        s.AppendLine("## Notes");
        s.AppendLine();
        s.AppendLine("- Every run is a process of its own, so a run that crashes (even a native abort or segfault) ends only itself.");
        s.AppendLine("- A failure's stage and error come from the run's ledger.jsonl (a stage with status failed), else from logs/error.log, " +
                     "else from the last lines of its stderr; a run without a failed stage names the stage it had started and not finished.");
        s.AppendLine("- An exit code of 128 + N means signal N killed the run (as .NET and shells report it).");
        s.AppendLine("- Seconds: wall time of the child process, start to exit (the .NET start-up included).");
        return s.ToString();
    }

    private static string Cell(string text) => text.Replace("|", "\\|").Replace("\r", " ").Replace("\n", " ");

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Whole seconds from 10 s on, one decimal below.</summary>
    public static string Seconds(double s) => s.ToString(s >= 10 ? "0" : "0.0", CultureInfo.InvariantCulture);
}
