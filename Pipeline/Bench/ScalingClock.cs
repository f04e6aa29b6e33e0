using System.Diagnostics;

namespace Distill.Pipeline.Bench;

/// <summary>What one run of the scaling benchmark measured, shared by its fake teachers and student (thread-safe):
/// when the first teacher call started, when the last shard was consumed, and the student's time per shard.</summary>
public sealed class ScalingClock
{
    private long _firstInfer;
    private long _lastConsumed;
    private long _consumeTicks;
    private int _consumed;
    private int _inferCalls;

    /// <summary>A teacher call starts (the first one starts the span).</summary>
    public void InferStarted()
    {
        Interlocked.Increment(ref _inferCalls);
        Interlocked.CompareExchange(ref _firstInfer, Stopwatch.GetTimestamp(), 0);
    }

    /// <summary>Teacher calls (more than the shards when a shard was re-issued).</summary>
    public int InferCalls => Volatile.Read(ref _inferCalls);

    /// <summary>The student consumed a shard that started at <paramref name="start"/>.</summary>
    public void Consumed(long start)
    {
        var end = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _consumeTicks, end - start);
        Interlocked.Increment(ref _consumed);
        long last;
        while (end > (last = Interlocked.Read(ref _lastConsumed)) && Interlocked.CompareExchange(ref _lastConsumed, end, last) != last) { }
    }

    public int ShardsConsumed => Volatile.Read(ref _consumed);

    /// <summary>From the first teacher call to the last consumed shard: the time the flow took for the shards, without
    /// the stage's start-up (actors, teacher replicas) and shutdown.</summary>
    public TimeSpan Span => _firstInfer == 0 || _lastConsumed < _firstInfer ? TimeSpan.Zero : Stopwatch.GetElapsedTime(_firstInfer, _lastConsumed);

    /// <summary>Total time the student spent consuming.</summary>
    public TimeSpan ConsumeTime => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _consumeTicks));
}
