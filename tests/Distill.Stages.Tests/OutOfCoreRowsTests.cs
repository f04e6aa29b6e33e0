using Xunit;
using System.Collections.Concurrent;
using Distill.Stages.Training;

namespace Distill.Stages.Tests;

/// <summary>Later epochs read their rows back from disk a window of shards at a time (<see cref="ShardWindowRows{T}"/>
/// over <see cref="KeptShards"/>).</summary>
public class OutOfCoreRowsTests
{
    // 10 shards of 4 rows; row r of shard s is 100 * s + r.
    private static readonly (int Shard, int Rows)[] Shards = Enumerable.Range(0, 10).Select(s => (s, 4)).ToArray();
    private static IReadOnlyList<int> RowsOf(int shard) => Enumerable.Range(0, 4).Select(r => 100 * shard + r).ToArray();

    [Fact]
    public void Every_row_comes_once_per_epoch_in_the_order_of_its_seed()
    {
        var rows = new ShardWindowRows<int>(Shards, RowsOf, window: 3);
        var first = rows.InOrder(7).ToList();
        Assert.Equal(40, rows.Count);
        Assert.Equal(Shards.SelectMany(s => RowsOf(s.Shard)).Order(), first.Order());
        Assert.Equal(first, rows.InOrder(7));                  // the same seed, the same order
        Assert.NotEqual(first, rows.InOrder(8));
    }

    [Fact]
    public void A_window_mixes_only_its_own_shards_and_one_window_of_all_is_a_full_mix()
    {
        var blocks = new ShardWindowRows<int>(Shards, RowsOf, window: 2).InOrder(3).Chunk(8).ToList();
        Assert.Equal(5, blocks.Count);
        foreach (var block in blocks) Assert.True(block.Select(r => r / 100).Distinct().Count() <= 2); // 8 rows from 2 shards
        Assert.Equal(10, blocks.SelectMany(b => b.Select(r => r / 100)).Distinct().Count());

        var all = new ShardWindowRows<int>(Shards, RowsOf, window: 10).InOrder(3).Take(8).ToList();
        Assert.True(all.Select(r => r / 100).Distinct().Count() > 2);   // the first 8 rows come from several shards
    }

    [Fact]
    public void At_most_two_windows_are_read_ahead_of_the_trainer()
    {
        var read = new ConcurrentBag<int>();
        var rows = new ShardWindowRows<int>(Shards, s => { read.Add(s); return RowsOf(s); }, window: 2);
        using var e = rows.InOrder(1).GetEnumerator();
        Assert.True(e.MoveNext());
        SpinWait.SpinUntil(() => read.Count >= 4, TimeSpan.FromSeconds(5));
        Thread.Sleep(50);
        Assert.Equal(4, read.Count);                            // the current window and the next, not more
    }

    [Fact]
    public void A_shard_that_reads_short_is_an_error_naming_it()
    {
        var rows = new ShardWindowRows<int>(Shards, s => s == 6 ? RowsOf(s).Take(3).ToArray() : RowsOf(s), window: 1);
        var e = Assert.Throws<InvalidDataException>(() => rows.InOrder(2).ToList());
        Assert.Contains("shards 6: read 3 rows, expected 4", e.Message);
    }

    [Fact]
    public void In_shard_order_reads_one_shard_at_a_time_in_the_given_order()
    {
        var read = new List<int>();
        var rows = new ShardWindowRows<int>([(4, 4), (1, 4)], s => { read.Add(s); return RowsOf(s); }, window: 2);
        using var e = rows.InShardOrder().GetEnumerator();
        Assert.True(e.MoveNext());
        Assert.Equal([4], read);                                 // no read ahead
        var rest = new List<int> { e.Current };
        while (e.MoveNext()) rest.Add(e.Current);
        Assert.Equal([400, 401, 402, 403, 100, 101, 102, 103], rest);
        var shortRead = new ShardWindowRows<int>([(2, 5)], RowsOf, window: 1);
        Assert.Contains("shard 2: read 4 rows, expected 5", Assert.Throws<InvalidDataException>(() => shortRead.InShardOrder().ToList()).Message);
    }

    [Fact]
    public void Kept_shards_round_trip_and_leave_other_files_alone()
    {
        using var dir = new TempDir();
        var folder = dir.File("kept");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "000003.arrow.tmp"), "torn");   // an earlier attempt's unfinished file
        File.WriteAllText(Path.Combine(folder, "notes.txt"), "mine");
        var kept = new KeptShards(folder, replayWindow: 1);
        Assert.False(File.Exists(Path.Combine(folder, "000003.arrow.tmp")));

        kept.Put(5, [1, 2, 3], rows: 2);
        kept.Put(1, [9], rows: 1);
        Assert.Equal([(1, 1), (5, 2)], kept.Shards);
        Assert.Equal([1, 2, 3], kept.Read(5));
        Assert.Equal(4, kept.Bytes);
        Assert.Throws<InvalidOperationException>(() => kept.Put(5, [0], rows: 1));
        Assert.Contains("shard 2 is not kept", Assert.Throws<InvalidOperationException>(() => kept.Read(2)).Message);

        kept.Delete();
        Assert.Equal(["notes.txt"], Directory.GetFiles(folder).Select(Path.GetFileName));  // the user's file stays, so the folder does
        File.Delete(Path.Combine(folder, "notes.txt"));
        new KeptShards(folder, replayWindow: 1).Delete();
        Assert.False(Directory.Exists(folder));
    }
}
