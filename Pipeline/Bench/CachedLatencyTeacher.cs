using System.Diagnostics;
using System.Security.Cryptography;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>A teacher on another machine, for the overlap benchmark: every call sleeps <c>latency</c> (taking no CPU
/// here) and returns the real <c>teacher/v2</c> batch a live run cached for that shard, found by the sha256 of the
/// shard's <c>samples/v1</c> bytes (the loaders write a shard the same way every time). Thread-safe: it records when
/// the first call started and the last one ended (<see cref="Span"/>).</summary>
public sealed class CachedLatencyTeacher(TimeSpan latency, IReadOnlyDictionary<string, byte[]> batches) : ITeacherStep
{
    private long _firstStart, _lastEnd;

    /// <summary>The key of a shard's batch: the sha256 of its <c>samples/v1</c> bytes, hex.</summary>
    public static string KeyOf(byte[] samplesV1) => Convert.ToHexString(SHA256.HashData(samplesV1));

    /// <summary>From the first call's start to the last call's end: the teacher side's time for the stage.</summary>
    public TimeSpan Span => _firstStart == 0 ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_firstStart, Interlocked.Read(ref _lastEnd));

    public byte[] Infer(byte[] samplesV1)
    {
        Interlocked.CompareExchange(ref _firstStart, Stopwatch.GetTimestamp(), 0);
        Thread.Sleep(latency);
        if (!batches.TryGetValue(KeyOf(samplesV1), out var teacherBatch))
            throw new InvalidDataException("the teacher stand-in got a shard the live run cached no batch for (the shards differ between the runs)");
        long end = Stopwatch.GetTimestamp(), last;
        while (end > (last = Interlocked.Read(ref _lastEnd)) && Interlocked.CompareExchange(ref _lastEnd, end, last) != last) { }
        return teacherBatch;
    }

    /// <summary>Nothing to free: one stand-in serves every teacher worker of the stage.</summary>
    public void Dispose() { }
}
