using System.Globalization;
using Distill.Stages.Runs;

namespace Distill.Pipeline.Tests;

public class MetricsLogTests
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 4, 5, 6, 7, 890, TimeSpan.Zero);

    [Fact]
    public void Writes_header_once_and_rows_in_invariant_culture()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "sub", "metrics.csv");
        var saved = CultureInfo.CurrentCulture;
        var comma = (CultureInfo)CultureInfo.InvariantCulture.Clone();
        comma.NumberFormat.NumberDecimalSeparator = ",";
        CultureInfo.CurrentCulture = comma;
        try
        {
            using (var log = new MetricsLog(path))
            {
                log.Append(T0, "mimic", "distill", 12, "loss", 1.25);
                // Flushed per write: readable while the log is open.
                Assert.Equal(2, File.ReadAllLines(path).Length);
                log.Append(T0.AddSeconds(1), "eval", "teacher, greedy", 3, "acc\"x", double.NaN);
            }
            using (var again = new MetricsLog(path))
            {
                again.Append(T0, "mimic", "distill", 13, "loss", -0.5e-7);
            }
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
        Assert.Equal(
        [
            MetricsLog.Header,
            "2025-03-04T05:06:07.890Z,mimic,distill,12,loss,1.25",
            "2025-03-04T05:06:08.890Z,eval,\"teacher, greedy\",3,\"acc\"\"x\",NaN",
            "2025-03-04T05:06:07.890Z,mimic,distill,13,loss,-5E-08",
        ], File.ReadAllLines(path));
    }

    [Fact]
    public void Concurrent_writers_produce_whole_lines()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "metrics.csv");
        using (var log = new MetricsLog(path))
        using (var second = new MetricsLog(path))
        {
            Parallel.For(0, 8, w =>
            {
                for (var i = 0; i < 200; i++) (w % 2 == 0 ? log : second).Append($"s{w}", "p", i, "loss", i * 0.5);
            });
        }
        var lines = File.ReadAllLines(path);
        Assert.Equal(MetricsLog.Header, lines[0]);
        Assert.Equal(1 + 8 * 200, lines.Length);
        Assert.All(lines.Skip(1), l => Assert.Equal(6, l.Split(',').Length));
        Assert.Equal(200, lines.Count(l => l.Contains(",s3,")));
    }

    [Fact]
    public void Uses_the_given_clock()
    {
        using var t = new TempDir();
        var path = Path.Combine(t.Path, "m.csv");
        using (var log = new MetricsLog(path, new ManualTime(T0))) log.Append("a", "b", 1, "c", 2);
        Assert.StartsWith("2025-03-04T05:06:07.890Z,a,b,1,c,2", File.ReadAllLines(path)[1]);
    }

    /// <summary>The records of a TensorBoard event file (TFRecord framing: u64 length, u32 crc, data, u32 crc),
    /// parsed as TensorBoard's Event protos.</summary>
    private static List<Tensorboard.Event> Events(string file)
    {
        var events = new List<Tensorboard.Event>();
        using var reader = new BinaryReader(File.OpenRead(file));
        while (reader.BaseStream.Position < reader.BaseStream.Length)
        {
            var length = reader.ReadInt64();
            reader.ReadUInt32();
            events.Add(Tensorboard.Event.Parser.ParseFrom(reader.ReadBytes((int)length)));
            reader.ReadUInt32();
        }
        return events;
    }

    [Fact]
    public void With_a_tensorboard_directory_every_finite_value_is_a_scalar_event_written_at_once()
    {
        using var t = new TempDir();
        var dir = Path.Combine(t.Path, "tensorboard");
        using var log = new MetricsLog(Path.Combine(t.Path, "metrics.csv"), tensorBoardDir: dir);
        log.Append(T0, "mimic", "d2d", 12, "loss", 1.25);
        log.Append(T0.AddSeconds(2), "eval", "teacher speed", 3, "samples_per_s", double.NaN);
        log.Append(T0.AddSeconds(3), "mimic", "d2d-heldout", 1, "loss", 0.5);

        var file = Assert.Single(Directory.GetFiles(dir));
        Assert.StartsWith("events.out.tfevents.", Path.GetFileName(file));
        var scalars = Events(file).Where(e => e.Summary is not null).ToList(); // the first event is the file version
        Assert.Equal(["mimic/d2d/loss", "mimic/d2d-heldout/loss"], scalars.Select(e => e.Summary.Value.Single().Tag));
        Assert.Equal([1.25f, 0.5f], scalars.Select(e => e.Summary.Value.Single().SimpleValue));
        Assert.Equal([12L, 1L], scalars.Select(e => e.Step));
        Assert.Equal([T0.ToUnixTimeSeconds(), T0.AddSeconds(3).ToUnixTimeSeconds()], scalars.Select(e => (long)e.WallTime));
        Assert.Equal("eval/teacher_speed/samples_per_s", TensorBoardLog.Tag("eval", "teacher speed", "samples_per_s"));
    }
}
