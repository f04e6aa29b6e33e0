using System.Globalization;
using System.Text;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Reporting;

/// <summary>One row of a run's <c>metrics.csv</c> (<see cref="MetricsLog"/>).</summary>
public sealed record MetricPoint(DateTimeOffset Time, string Stage, string Phase, long Step, string Metric, double Value);

/// <summary>Reads <c>metrics.csv</c> as <see cref="MetricsLog"/> writes it: the header, then
/// <c>time_utc,stage,phase,step,metric,value</c> rows with RFC 4180 quoting. A torn last row (the process stopped
/// mid-write, no newline after it) is ignored; any other bad row is an error naming the file and line.</summary>
public static class MetricsCsv
{
    public static IReadOnlyList<MetricPoint> Read(string path)
    {
        if (!File.Exists(path)) return [];
        string text;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        using (var reader = new StreamReader(stream, Encoding.UTF8))
            text = reader.ReadToEnd();
        return Parse(text, path);
    }

    public static IReadOnlyList<MetricPoint> Parse(string text, string source)
    {
        var points = new List<MetricPoint>();
        foreach (var (fields, line, complete) in Records(text))
        {
            if (line == 1)
            {
                if (string.Join(',', fields) != MetricsLog.Header)
                    throw new InvalidDataException($"{source}, line 1: expected the header '{MetricsLog.Header}'");
                continue;
            }
            if (fields.Count == 1 && fields[0].Length == 0) continue;
            try
            {
                if (fields.Count != 6) throw new FormatException($"{fields.Count} fields instead of 6");
                points.Add(new MetricPoint(
                    DateTimeOffset.Parse(fields[0], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
                    fields[1], fields[2],
                    long.Parse(fields[3], NumberStyles.Integer, CultureInfo.InvariantCulture),
                    fields[4],
                    double.Parse(fields[5], NumberStyles.Float, CultureInfo.InvariantCulture)));
            }
            catch (FormatException e) when (!complete)
            {
                _ = e; // the last row was cut off mid-write: it never counted
            }
            catch (FormatException e)
            {
                throw new InvalidDataException($"{source}, line {line}: {e.Message}", e);
            }
        }
        return points;
    }

    /// <summary>The records of a CSV text (RFC 4180 quoting): fields, the line the record starts on, and whether a
    /// newline ends it.</summary>
    internal static IEnumerable<(List<string> Fields, int Line, bool Complete)> Records(string text)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        int line = 1, start = 1;
        bool quoted = false, any = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            any = true;
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else
                {
                    if (c == '\n') line++;
                    field.Append(c);
                }
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { fields.Add(field.ToString()); field.Clear(); }
            else if (c == '\n')
            {
                fields.Add(field.ToString().TrimEnd('\r'));
                yield return (fields, start, true);
                fields = [];
                field.Clear();
                any = false;
                start = ++line;
            }
            else field.Append(c);
        }
        if (any)
        {
            fields.Add(field.ToString());
            yield return (fields, start, false);
        }
    }
}
