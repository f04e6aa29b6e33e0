namespace Distill.Stages.Training;

/// <summary>Rows kept on disk as shards, read back one window of shards at a time: each epoch visits the shards in a
/// seeded order, <see cref="Window"/> shards at once, their rows shuffled together (a block shuffle: the order is
/// a full shuffle when every shard fits in one window). The next window is read and decoded in the background while
/// the current one trains, so at most two windows are in memory: memory is bounded by the window and the shard
/// size, not by the data.</summary>
public sealed class ShardWindowRows<T> : IEpochRows<T>
{
    private readonly IReadOnlyList<(int Shard, int Rows)> _shards;
    private readonly Func<int, IReadOnlyList<T>> _read;

    /// <param name="shards">The shards in a fixed order (their ids and row counts).</param>
    /// <param name="read">Reads one shard's rows (called from a background thread; must be thread-safe).</param>
    /// <param name="window">Shards decoded and shuffled together (at least 1).</param>
    public ShardWindowRows(IReadOnlyList<(int Shard, int Rows)> shards, Func<int, IReadOnlyList<T>> read, int window)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(window, 1);
        _shards = shards.ToArray();
        _read = read;
        Window = window;
        Count = _shards.Sum(s => s.Rows);
    }

    public int Count { get; }

    /// <summary>Shards in memory at once (two while the next window is read ahead).</summary>
    public int Window { get; }

    /// <summary>Windows read so far (for tests and figures).</summary>
    public int WindowsRead { get; private set; }

    public IEnumerable<T> InOrder(int seed)
    {
        var order = TeacherPretraining.Shuffled(_shards, seed);
        var windows = order.Chunk(Window).ToArray();
        Task<List<T>>? next = windows.Length > 0 ? ReadAhead(windows[0]) : null;
        for (int w = 0; w < windows.Length; w++)
        {
            var rows = next!.GetAwaiter().GetResult();                    // a failed read surfaces here, naming the shard
            next = w + 1 < windows.Length ? ReadAhead(windows[w + 1]) : null;
            WindowsRead++;
            if (rows.Count != windows[w].Sum(s => s.Rows))
                throw new InvalidDataException($"shards {string.Join(", ", windows[w].Select(s => s.Shard))}: read {rows.Count} rows, expected {windows[w].Sum(s => s.Rows)}");
            foreach (var row in TeacherPretraining.Shuffled(rows, unchecked(seed * 31 + w))) yield return row;
        }
    }

    /// <summary>Every row once in the shards' fixed order, one shard in memory at a time (for measurements, which
    /// need no shuffle).</summary>
    public IEnumerable<T> InShardOrder()
    {
        foreach (var (shard, count) in _shards)
        {
            var rows = _read(shard);
            if (rows.Count != count) throw new InvalidDataException($"shard {shard}: read {rows.Count} rows, expected {count}");
            foreach (var row in rows) yield return row;
        }
    }

    private Task<List<T>> ReadAhead((int Shard, int Rows)[] window) => Task.Run(() =>
    {
        var rows = new List<T>(window.Sum(s => s.Rows));
        foreach (var (shard, _) in window) rows.AddRange(_read(shard));
        return rows;
    });
}
