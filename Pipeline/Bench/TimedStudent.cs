using System.Diagnostics;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>A student step that reports the time of every Consume, of its Arrow decoding, and of the messaging that
/// brought a teacher's batch to it (see <see cref="FlowStageTimes.Messaging"/>) to a <see cref="FlowClock"/>. Passes
/// the inner step's Arrow times on, so the trainer's own figures keep them.</summary>
public sealed class TimedStudent : IStudentStep, IArrowCodecTimed
{
    private readonly IStudentStep _inner;
    private readonly FlowClock _clock;
    private readonly string _stage;
    private long _free;

    public TimedStudent(IStudentStep inner, FlowClock clock, string stage)
    {
        _inner = inner;
        _clock = clock;
        _stage = stage;
        _free = Stopwatch.GetTimestamp(); // made by the student host just before its first shard can arrive
    }

    public ArrowCodecTime ArrowTime => (_inner as IArrowCodecTimed)?.ArrowTime ?? ArrowCodecTime.Zero;

    public StepReport Consume(int shardId, byte[] teacherBatch)
    {
        var start = Stopwatch.GetTimestamp();
        long? messaging = _clock.EmittedAt(teacherBatch) is { } emitted ? Math.Max(0, start - Math.Max(emitted, _free)) : null;
        var decodeBefore = ArrowTime.Decode;
        var report = _inner.Consume(shardId, teacherBatch);
        var end = Stopwatch.GetTimestamp();
        _clock.StudentCall(_stage, end - start, ArrowTime.Decode - decodeBefore, messaging);
        _free = end;
        return report;
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) => _inner.Complete(progress, cancellation);

    public void Dispose() => _inner.Dispose();
}
