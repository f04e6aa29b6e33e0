using System.Diagnostics;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>A teacher step that reports the time of every call, and of its Arrow encode/decode when the inner step
/// measures them (<see cref="IArrowCodecTimed"/>), to a <see cref="FlowClock"/>, with when its batch left.</summary>
public sealed class TimedTeacher(ITeacherStep inner, FlowClock clock, string stage) : ITeacherStep
{
    public byte[] Infer(byte[] samplesV1)
    {
        var codecBefore = (inner as IArrowCodecTimed)?.ArrowTime ?? ArrowCodecTime.Zero;
        var start = Stopwatch.GetTimestamp();
        var output = inner.Infer(samplesV1);
        var end = Stopwatch.GetTimestamp();
        var codec = (inner as IArrowCodecTimed)?.ArrowTime.Since(codecBefore) ?? ArrowCodecTime.Zero;
        clock.TeacherCall(stage, end - start, codec, output, end);
        return output;
    }

    public void Dispose() => inner.Dispose();
}
