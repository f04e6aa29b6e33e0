using Distill.Stages.Runs;
using Xunit;

namespace Distill.Actors.Tests;

public sealed class RunLedgerTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "distill-ledger-tests", Guid.NewGuid().ToString("N"));
    private string LedgerPath => Path.Combine(_folder, "sub", "ledger.jsonl");

    public void Dispose()
    {
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }

    [Fact]
    public void Entries_round_trip_one_json_line_each()
    {
        var ledger = new RunLedger(LedgerPath);
        var t = new DateTime(2025, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        ledger.Append(new RunLedgerEntry("teacher", RunLedgerStatus.Started, t));
        ledger.Append(new RunLedgerEntry("teacher", RunLedgerStatus.Completed, t, 1.5, 4, 1, 4, "/ckpt",
            new Dictionary<string, double> { ["loss"] = 0.25, ["nan"] = double.NaN }));
        ledger.Append(new RunLedgerEntry("mimic", RunLedgerStatus.Failed, t, 2, Error: "shard 3 failed"));

        var lines = File.ReadAllLines(LedgerPath);
        Assert.Equal(3, lines.Length);
        Assert.Contains("\"status\":\"completed\"", lines[1]);
        Assert.Contains("\"shards_reissued\":1", lines[1]);

        var back = new RunLedger(LedgerPath).ReadAll();
        Assert.Equal(3, back.Count);
        Assert.Equal(RunLedgerStatus.Completed, back[1].Status);
        Assert.Equal(t, back[1].TimeUtc);
        Assert.Equal("/ckpt", back[1].Checkpoint);
        Assert.Equal((4, 1, 4), (back[1].ShardsIssued, back[1].ShardsReissued, back[1].ShardsConsumed));
        Assert.Equal(0.25, back[1].Figures!["loss"]);
        Assert.True(double.IsNaN(back[1].Figures!["nan"]));
        Assert.Equal("shard 3 failed", back[2].Error);
    }

    [Fact]
    public void Missing_file_reads_as_empty()
    {
        var ledger = new RunLedger(LedgerPath);
        Assert.Empty(ledger.ReadAll());
        Assert.Empty(ledger.CompletedStages());
    }

    [Fact]
    public void Completed_stages_follow_the_latest_decisive_entry()
    {
        var ledger = new RunLedger(LedgerPath);
        var t = DateTime.UtcNow;
        ledger.Append(new RunLedgerEntry("a", RunLedgerStatus.Started, t));
        ledger.Append(new RunLedgerEntry("a", RunLedgerStatus.Completed, t, Checkpoint: "a1"));
        ledger.Append(new RunLedgerEntry("b", RunLedgerStatus.Started, t));
        ledger.Append(new RunLedgerEntry("b", RunLedgerStatus.Failed, t, Error: "x"));
        ledger.Append(new RunLedgerEntry("a", RunLedgerStatus.Skipped, t, Checkpoint: "a1"));
        ledger.Append(new RunLedgerEntry("c", RunLedgerStatus.Completed, t));
        ledger.Append(new RunLedgerEntry("c", RunLedgerStatus.Started, t)); // re-run that never finished

        var completed = ledger.CompletedStages();
        Assert.Equal(["a"], completed.Keys.ToArray());
        Assert.Equal("a1", completed["a"].Checkpoint);
        Assert.True(ledger.IsCompleted("a"));
        Assert.False(ledger.IsCompleted("b"));
    }

    [Fact]
    public void A_torn_last_line_is_ignored()
    {
        var ledger = new RunLedger(LedgerPath);
        ledger.Append(new RunLedgerEntry("a", RunLedgerStatus.Completed, DateTime.UtcNow));
        File.AppendAllText(LedgerPath, "{\"stage\":\"b\",\"sta");
        Assert.Single(ledger.ReadAll());
    }

    [Fact]
    public void A_bad_line_in_the_middle_names_file_and_line()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(LedgerPath)!);
        File.WriteAllText(LedgerPath, "{\"stage\":\"a\",\"status\":\"started\",\"time_utc\":\"2025-01-01T00:00:00Z\"}\nnot json\n");
        var ex = Assert.Throws<InvalidDataException>(() => new RunLedger(LedgerPath).ReadAll());
        Assert.Contains(LedgerPath, ex.Message);
        Assert.Contains("line 2", ex.Message);
    }
}
