using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>A teacher stand-in of fixed latency for the scaling benchmark: every call sleeps <c>latency</c> (taking no
/// CPU, as a teacher on another machine or an accelerator would) and returns the same real <c>teacher/v2</c> batch of
/// the configured size (<see cref="SyntheticTeacherBatch"/>).</summary>
public sealed class FixedLatencyTeacher(TimeSpan latency, byte[] teacherBatch, ScalingClock clock) : ITeacherStep
{
    public byte[] Infer(byte[] samplesV1)
    {
        clock.InferStarted();
        Thread.Sleep(latency);
        return teacherBatch;
    }

    public void Dispose() { }
}
