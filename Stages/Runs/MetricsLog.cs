using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Distill.Stages.Runs;

/// <summary>Appends metric rows to a run's <c>metrics.csv</c>: <c>time_utc,stage,phase,step,metric,value</c>.
/// Thread-safe; every row is flushed when written, numbers use the invariant culture (NaN and ±Infinity are
/// written as <c>NaN</c>, <c>Infinity</c>, <c>-Infinity</c>). The header is written when the file is new or empty;
/// an existing file is appended to (a resumed run keeps its rows). Several instances in one process may share a
/// file: rows are whole-line writes under one lock per path. With a TensorBoard directory every finite value also goes
/// to a TensorBoard event file there (<see cref="TensorBoardLog"/>), so <c>tensorboard --logdir runs/</c> shows a run
/// while it runs.</summary>
public sealed class MetricsLog : IDisposable
{
    public const string Header = "time_utc,stage,phase,step,metric,value";

    private static readonly ConcurrentDictionary<string, object> PathLocks = new(StringComparer.Ordinal);

    private readonly object _lock;
    private readonly FileStream _stream;
    private readonly StreamWriter _writer;
    private readonly TimeProvider _time;
    private bool _disposed;

    private readonly TensorBoardLog? _tensorBoard;

    /// <param name="tensorBoardDir">where the TensorBoard event file goes; null = none.</param>
    public MetricsLog(string path, TimeProvider? time = null, string? tensorBoardDir = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        _time = time ?? TimeProvider.System;
        _lock = PathLocks.GetOrAdd(Path, _ => new object());
        var dir = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(dir)) Directory.CreateDirectory(dir);
        lock (_lock)
        {
            _stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete);
            _writer = new StreamWriter(_stream, new UTF8Encoding(false)) { NewLine = "\n" };
            if (new FileInfo(Path).Length == 0)
            {
                _writer.Write(Header + "\n");
                _writer.Flush();
            }
        }
        if (tensorBoardDir is not null) _tensorBoard = new TensorBoardLog(tensorBoardDir);
    }

    /// <summary>The TensorBoard event file's directory; null when there is none.</summary>
    public string? TensorBoardDir => _tensorBoard?.Dir;

    /// <summary>Absolute path of the CSV file.</summary>
    public string Path { get; }

    /// <summary>Appends one row stamped with the current UTC time.</summary>
    public void Append(string stage, string phase, long step, string metric, double value) =>
        Append(_time.GetUtcNow(), stage, phase, step, metric, value);

    /// <summary>Appends one row with an explicit time.</summary>
    public void Append(DateTimeOffset time, string stage, string phase, long step, string metric, double value)
    {
        var line = string.Join(',',
            time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture),
            CsvField(stage),
            CsvField(phase),
            step.ToString(CultureInfo.InvariantCulture),
            CsvField(metric),
            value.ToString("R", CultureInfo.InvariantCulture)) + "\n";
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Seek(0, SeekOrigin.End);
            _writer.Write(line);
            _writer.Flush();
            _tensorBoard?.Append(time, stage, phase, step, metric, value);
        }
    }

    /// <summary>RFC 4180 quoting where a CSV field needs it (a comma, quote or line break in it).</summary>
    public static string CsvField(string s) =>
        s.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
            _writer.Dispose();
        }
    }
}
