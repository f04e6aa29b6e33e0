namespace Distill.Stages.Training;

/// <summary>The batches a distillation stage consumed, kept on disk for the epochs that replay them: one file per
/// shard (<c>&lt;shard&gt;.arrow</c>, the bytes as received), written to a temporary name and renamed, so a file is
/// whole or absent. The store's files (and unfinished temp files of an earlier attempt) are removed when the store is made
/// and by <see cref="Delete"/> when the stage is done, which also removes the folder once empty; nothing else in the
/// folder is touched. Thread-safe: <see cref="Read"/> may run on a read-ahead thread while
/// <see cref="Put"/> runs on the trainer's.</summary>
public sealed class KeptShards
{
    private readonly Dictionary<int, int> _rows = new();
    private readonly object _lock = new();

    /// <param name="replayWindow">Kept shards read back and shuffled together in a later epoch (<see cref="ReadBack{T}"/>).</param>
    public KeptShards(string directory, int replayWindow)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replayWindow, 1);
        ReplayWindow = replayWindow;
        Directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(Directory);
        RemoveOwnFiles();                     // batches of an earlier attempt of the stage
    }

    public string Directory { get; }

    /// <summary>Kept shards read back and shuffled together in a later epoch.</summary>
    public int ReplayWindow { get; }

    /// <summary>Bytes written so far.</summary>
    public long Bytes { get; private set; }

    /// <summary>The kept shards in id order with their row counts.</summary>
    public IReadOnlyList<(int Shard, int Rows)> Shards
    {
        get { lock (_lock) return _rows.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)).ToArray(); }
    }

    /// <summary>Keeps shard <paramref name="shard"/>'s batch of <paramref name="rows"/> rows; a shard is kept once.</summary>
    public void Put(int shard, byte[] batch, int rows)
    {
        lock (_lock)
        {
            if (_rows.ContainsKey(shard)) throw new InvalidOperationException($"shard {shard} is already kept in {Directory}");
        }
        var path = PathOf(shard);
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(batch);
            file.Flush(flushToDisk: false);   // scratch data: a crash re-runs the stage's collection, nothing reads it after
        }
        File.Move(temp, path, overwrite: false);
        lock (_lock)
        {
            _rows[shard] = rows;
            Bytes += batch.Length;
        }
    }

    /// <summary>The kept batch of <paramref name="shard"/>.</summary>
    public byte[] Read(int shard)
    {
        lock (_lock)
        {
            if (!_rows.ContainsKey(shard)) throw new InvalidOperationException($"shard {shard} is not kept in {Directory}");
        }
        try
        {
            return File.ReadAllBytes(PathOf(shard));
        }
        catch (IOException e)
        {
            throw new IOException($"{PathOf(shard)}: the kept batch of shard {shard} cannot be read: {e.Message}", e);
        }
    }

    /// <summary>The kept rows for the later epochs: the shards read back <see cref="ReplayWindow"/> at a time, each
    /// batch decoded by <paramref name="decode"/> (called from a read-ahead thread).</summary>
    public ShardWindowRows<T> ReadBack<T>(Func<byte[], IReadOnlyList<T>> decode) =>
        new(Shards, shard => decode(Read(shard)), ReplayWindow);

    /// <summary>Removes the folder and everything kept.</summary>
    public void Delete()
    {
        lock (_lock) _rows.Clear();
        if (!System.IO.Directory.Exists(Directory)) return;
        RemoveOwnFiles();
        if (!System.IO.Directory.EnumerateFileSystemEntries(Directory).Any()) System.IO.Directory.Delete(Directory);
    }

    /// <summary>Deletes the shard files and unfinished temp files of this store; nothing else in the folder.</summary>
    private void RemoveOwnFiles()
    {
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*.arrow*"))
            if (System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(file), @"^\d{6}\.arrow(\.tmp)?$")) File.Delete(file);
    }

    private string PathOf(int shard) => Path.Combine(Directory, $"{shard:D6}.arrow");
}
