using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Distill.Stages.Runs;

/// <summary>The append-only ledger of a run: one JSON object per line (<c>ledger.jsonl</c>), each line flushed to
/// disk before <see cref="Append"/> returns, so a crash loses at most the line being written. A torn last line
/// (no trailing newline) is ignored when reading; any other bad line is an error naming the file and line.</summary>
public sealed class RunLedger
{
    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower) },
        WriteIndented = false,
    };

    private readonly object _gate = new();

    public RunLedger(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    /// <summary>Appends one entry as one line and flushes it to disk. Creates the file and its folder if needed.</summary>
    public void Append(RunLedgerEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        var line = Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, Json) + "\n");
        lock (_gate)
        {
            var folder = System.IO.Path.GetDirectoryName(Path);
            if (!string.IsNullOrEmpty(folder)) Directory.CreateDirectory(folder);
            using var stream = new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
            stream.Write(line);
            stream.Flush(flushToDisk: true);
        }
    }

    /// <summary>Every entry in file order; empty when the file does not exist.</summary>
    public IReadOnlyList<RunLedgerEntry> ReadAll()
    {
        string text;
        lock (_gate)
        {
            if (!File.Exists(Path)) return [];
            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            text = reader.ReadToEnd();
        }

        var lines = text.Split('\n');
        var entries = new List<RunLedgerEntry>(lines.Length);
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.Length == 0) continue;
            var torn = i == lines.Length - 1; // no newline after it: the write was cut off
            try
            {
                var entry = JsonSerializer.Deserialize<RunLedgerEntry>(line, Json)
                            ?? throw new JsonException("null entry");
                if (string.IsNullOrEmpty(entry.Stage)) throw new JsonException("missing \"stage\"");
                entries.Add(entry);
            }
            catch (JsonException) when (torn)
            {
                // A crash mid-append: the line never finished, so it never counted.
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"Run ledger {Path}, line {i + 1}: {ex.Message}", ex);
            }
        }
        return entries;
    }

    /// <summary>Stages whose latest decisive entry (started, completed or failed) is <c>completed</c>, with that
    /// entry. <c>skipped</c> lines only repeat an earlier completion and do not change the answer.</summary>
    public IReadOnlyDictionary<string, RunLedgerEntry> CompletedStages()
    {
        var latest = new Dictionary<string, RunLedgerEntry>(StringComparer.Ordinal);
        foreach (var entry in ReadAll())
        {
            if (entry.Status == RunLedgerStatus.Skipped) continue;
            latest[entry.Stage] = entry;
        }
        return latest.Where(kv => kv.Value.Status == RunLedgerStatus.Completed)
                     .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
    }

    /// <summary>True when <paramref name="stage"/> has completed according to <see cref="CompletedStages"/>.</summary>
    public bool IsCompleted(string stage) => CompletedStages().ContainsKey(stage);
}
