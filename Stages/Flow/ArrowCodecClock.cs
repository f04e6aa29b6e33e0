using System.Diagnostics;

namespace Distill.Stages.Flow;

/// <summary>Time a teacher or student step spent turning Arrow IPC bytes into rows (<see cref="Decode"/>) and rows into
/// bytes (<see cref="Encode"/>), with the number of calls of each.</summary>
public sealed record ArrowCodecTime(TimeSpan Encode, int Encodes, TimeSpan Decode, int Decodes)
{
    public static ArrowCodecTime Zero { get; } = new(TimeSpan.Zero, 0, TimeSpan.Zero, 0);

    /// <summary>What was spent between <paramref name="earlier"/> and this reading.</summary>
    public ArrowCodecTime Since(ArrowCodecTime earlier) =>
        new(Encode - earlier.Encode, Encodes - earlier.Encodes, Decode - earlier.Decode, Decodes - earlier.Decodes);
}

/// <summary>A step that measures its Arrow encode/decode time (for the pipeline benchmark and the trainer's figures).</summary>
public interface IArrowCodecTimed
{
    /// <summary>Totals since the step was created.</summary>
    ArrowCodecTime ArrowTime { get; }
}

/// <summary>Stopwatch around the Arrow encode/decode calls of one step: <c>var rows = clock.Decoding(() =&gt; TeacherV2.Read(bytes, images))</c>.
/// Thread-safe (a step is called from one thread at a time, but may be read from another).</summary>
public sealed class ArrowCodecClock
{
    private long _encodeTicks, _decodeTicks;
    private int _encodes, _decodes;

    public ArrowCodecTime Time => new(
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _encodeTicks)), Volatile.Read(ref _encodes),
        Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _decodeTicks)), Volatile.Read(ref _decodes));

    /// <summary>Runs <paramref name="encode"/> (rows -> Arrow bytes) and adds its time to the encode total.</summary>
    public T Encoding<T>(Func<T> encode) => Timed(encode, ref _encodeTicks, ref _encodes);

    /// <summary>Runs <paramref name="decode"/> (Arrow bytes -> rows) and adds its time to the decode total.</summary>
    public T Decoding<T>(Func<T> decode) => Timed(decode, ref _decodeTicks, ref _decodes);

    private static T Timed<T>(Func<T> work, ref long ticks, ref int calls)
    {
        var start = Stopwatch.GetTimestamp();
        try
        {
            return work();
        }
        finally
        {
            Interlocked.Add(ref ticks, Stopwatch.GetTimestamp() - start);
            Interlocked.Increment(ref calls);
        }
    }
}
