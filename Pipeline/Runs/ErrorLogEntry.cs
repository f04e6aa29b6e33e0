using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Distill.Pipeline.Runs;

/// <summary>One entry of a run's <c>logs/error.log</c>: the header line <c>[UTC time] stage S | KIND | MESSAGE</c>
/// (KIND: an exception's full type name, <c>error</c>, <c>interrupted</c> or, written by run.sh, <c>signal SIGxxx</c>),
/// then the full text, then a blank line. The one place that knows the layout: the writer (Cli.FailureReport)
/// formats with <see cref="Format"/>, readers (the soak) parse with <see cref="Last"/>; run.sh writes the same header.</summary>
public sealed partial record ErrorLogEntry(DateTime TimeUtc, string Stage, string Kind, string Message)
{
    public const string FileName = "error.log";

    /// <summary>The whole entry with <paramref name="text"/> (line ends normalised), ready to append in one write.</summary>
    public string Format(string text) => new StringBuilder()
        .Append('[').Append(TimeUtc.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture)).Append("] stage ")
        .Append(Stage).Append(" | ").Append(Kind).Append(" | ").Append(Message).Append('\n')
        .Append(text.Replace("\r\n", "\n").TrimEnd('\n')).Append("\n\n")
        .ToString();

    /// <summary>The header of the last entry in <paramref name="path"/>; null when the file is missing or has none.</summary>
    public static ErrorLogEntry? Last(string path)
    {
        if (!File.Exists(path)) return null;
        string text;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
            text = reader.ReadToEnd();
        ErrorLogEntry? last = null;
        foreach (var line in text.Split('\n'))
            if (Header().Match(line.TrimEnd('\r')) is { Success: true } m
                && DateTime.TryParse(m.Groups["time"].Value, CultureInfo.InvariantCulture,
                    DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var time))
                last = new ErrorLogEntry(time, m.Groups["stage"].Value, m.Groups["kind"].Value, m.Groups["message"].Value);
        return last;
    }

    [GeneratedRegex(@"^\[(?<time>\d{4}-\d{2}-\d{2}T[0-9:.]+Z)\] stage (?<stage>.*?) \| (?<kind>[^|]*?) \| (?<message>.*)$")]
    private static partial Regex Header();
}
