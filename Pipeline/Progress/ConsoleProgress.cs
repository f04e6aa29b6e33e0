using System.Globalization;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Spectre.Console;

namespace Distill.Pipeline.Progress;

/// <summary>Prints progress lines such as <c>[mimic] distill  120/400  85.3 samples/s  loss 1.2345  ETA 0:32</c>,
/// at most one per stage/phase every <see cref="Interval"/> plus the final step, and forwards every update to the
/// <see cref="MetricsLog"/> (metrics <c>samples_per_s</c> and <c>loss</c>). Thread-safe. The ETA comes from the
/// step rate observed since the phase's first update. Colour (Spectre.Console markup) only when the output is an
/// ANSI terminal and NO_COLOR is unset; plain text otherwise (CI logs).</summary>
public sealed class ConsoleProgress : IStageProgress
{
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromSeconds(2);

    private sealed class PhaseState
    {
        public DateTimeOffset FirstTime;
        public long FirstStep;
        public DateTimeOffset? LastPrinted;
        public bool FinalPrinted;
    }

    private readonly object _lock = new();
    private readonly Dictionary<(string Stage, string Phase), PhaseState> _phases = new();
    private readonly TextWriter _out;
    private readonly IAnsiConsole? _ansi;
    private readonly MetricsLog? _metrics;
    private readonly TimeProvider _time;

    /// <param name="metrics">receives every update; null = none.</param>
    /// <param name="output">where lines go; null = standard output.</param>
    /// <param name="colour">force colour on or off; null = detect (terminal, ANSI, NO_COLOR).</param>
    /// <param name="time">clock for throttling and ETA; null = system.</param>
    /// <param name="interval">minimum time between lines of one stage/phase; null = 2 s.</param>
    public ConsoleProgress(MetricsLog? metrics, TextWriter? output = null, bool? colour = null, TimeProvider? time = null, TimeSpan? interval = null)
    {
        _metrics = metrics;
        _out = output ?? Console.Out;
        _time = time ?? TimeProvider.System;
        Interval = interval ?? DefaultInterval;
        var useColour = colour ?? DetectColour(output);
        if (useColour)
        {
            _ansi = AnsiConsole.Create(new AnsiConsoleSettings
            {
                Ansi = AnsiSupport.Yes,
                ColorSystem = ColorSystemSupport.Detect,
                Out = new AnsiConsoleOutput(_out),
            });
        }
    }

    public TimeSpan Interval { get; }

    /// <summary>The metrics log updates are forwarded to (null when none).</summary>
    public MetricsLog? Metrics => _metrics;

    private static bool DetectColour(TextWriter? output)
    {
        if (output is not null) return false; // a caller-supplied writer is a file or a test
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("NO_COLOR"))) return false;
        if (Console.IsOutputRedirected) return false;
        return AnsiConsole.Profile.Capabilities.Ansi;
    }

    public void Report(StageProgress p)
    {
        ArgumentNullException.ThrowIfNull(p);
        if (_metrics is not null)
        {
            _metrics.Append(p.Stage, p.Phase, p.Step, "samples_per_s", p.SamplesPerSecond);
            _metrics.Append(p.Stage, p.Phase, p.Step, "loss", p.Loss);
        }

        var now = _time.GetUtcNow();
        lock (_lock)
        {
            if (!_phases.TryGetValue((p.Stage, p.Phase), out var st))
            {
                st = new PhaseState { FirstTime = now, FirstStep = p.Step };
                _phases[(p.Stage, p.Phase)] = st;
            }
            else if (p.Step < st.FirstStep)
            {
                // The phase restarted (a resumed or repeated stage): measure the rate afresh.
                st.FirstTime = now;
                st.FirstStep = p.Step;
                st.FinalPrinted = false;
            }

            var isFinal = p.TotalSteps > 0 && p.Step >= p.TotalSteps;
            var due = st.LastPrinted is null || now - st.LastPrinted.Value >= Interval;
            if (isFinal ? st.FinalPrinted : !due) return;
            st.LastPrinted = now;
            if (isFinal) st.FinalPrinted = true;

            var eta = Eta(st, p, now);
            if (_ansi is not null)
            {
                _ansi.MarkupLine(Colour(p, eta));
                return;
            }
            _out.WriteLine(Format(p, eta));
            _out.Flush();
        }
    }

    /// <summary>Remaining time from the step rate since the phase's first update; null when unknown.</summary>
    internal static TimeSpan? Eta(DateTimeOffset firstTime, long firstStep, StageProgress p, DateTimeOffset now)
    {
        if (p.TotalSteps <= 0) return null;
        if (p.Step >= p.TotalSteps) return TimeSpan.Zero;
        var elapsed = (now - firstTime).TotalSeconds;
        var done = p.Step - firstStep;
        if (elapsed <= 0 || done <= 0) return null;
        var seconds = (p.TotalSteps - p.Step) * elapsed / done;
        return seconds > TimeSpan.MaxValue.TotalSeconds / 2 ? null : TimeSpan.FromSeconds(seconds);
    }

    private static TimeSpan? Eta(PhaseState st, StageProgress p, DateTimeOffset now) => Eta(st.FirstTime, st.FirstStep, p, now);

    /// <summary><c>0:32</c>, <c>12:05</c>, <c>1:02:03</c>; <c>--:--</c> when unknown.</summary>
    public static string FormatEta(TimeSpan? eta)
    {
        if (eta is null) return "--:--";
        var t = TimeSpan.FromSeconds(Math.Ceiling(eta.Value.TotalSeconds));
        return t.TotalHours >= 1
            ? string.Create(CultureInfo.InvariantCulture, $"{(long)t.TotalHours}:{t.Minutes:00}:{t.Seconds:00}")
            : string.Create(CultureInfo.InvariantCulture, $"{t.Minutes}:{t.Seconds:00}");
    }

    private static string StepText(StageProgress p) =>
        p.TotalSteps > 0
            ? string.Create(CultureInfo.InvariantCulture, $"{p.Step}/{p.TotalSteps}")
            : p.Step.ToString(CultureInfo.InvariantCulture);

    private static string Rate(StageProgress p) =>
        double.IsFinite(p.SamplesPerSecond) ? p.SamplesPerSecond.ToString("0.0", CultureInfo.InvariantCulture) : "-";

    private static string Loss(StageProgress p) =>
        double.IsFinite(p.Loss) ? p.Loss.ToString("0.0000", CultureInfo.InvariantCulture) : "-";

    /// <summary>The plain-text line for one update.</summary>
    public static string Format(StageProgress p, TimeSpan? eta)
    {
        var line = $"[{p.Stage}] {p.Phase}  {StepText(p)}  {Rate(p)} samples/s  loss {Loss(p)}";
        return p.TotalSteps > 0 ? line + "  ETA " + FormatEta(eta) : line;
    }

    private static string Colour(StageProgress p, TimeSpan? eta)
    {
        string E(string s) => Markup.Escape(s);
        var line = $"[bold blue][[{E(p.Stage)}]][/] {E(p.Phase)}  [bold]{E(StepText(p))}[/]  {E(Rate(p))} samples/s  loss [yellow]{E(Loss(p))}[/]";
        return p.TotalSteps > 0 ? line + "  ETA [green]" + E(FormatEta(eta)) + "[/]" : line;
    }
}
