using System.Diagnostics;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>The cheap student of the scaling benchmark: decodes each <c>teacher/v1</c> batch (what the mimic student
/// does while batches stream in) and trains nothing, so the trainer caps the flow only at a very high rate.</summary>
public sealed class DecodingStudent(ScalingClock clock) : IStudentStep
{
    public StepReport Consume(int shardId, byte[] teacherV1)
    {
        var start = Stopwatch.GetTimestamp();
        var (rows, _) = TeacherV1.Read(teacherV1);
        clock.Consumed(start);
        return new StepReport(shardId, rows.Count, double.NaN);
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) => StageOutcome.Empty;

    public void Dispose() { }
}
