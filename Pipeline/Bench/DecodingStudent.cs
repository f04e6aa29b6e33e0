using System.Diagnostics;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>The cheap student of the scaling benchmark: decodes each <c>teacher/v2</c> batch and takes its images from the rows (what the mimic student
/// does while batches stream in) and trains nothing, so the trainer caps the flow only at a very high rate.</summary>
public sealed class DecodingStudent(ScalingClock clock, ISampleImages images) : IStudentStep
{
    public StepReport Consume(int shardId, byte[] teacherBatch)
    {
        var start = Stopwatch.GetTimestamp();
        var (rows, _) = TeacherV2.Read(teacherBatch, images);
        clock.Consumed(start);
        return new StepReport(shardId, rows.Count, double.NaN);
    }

    public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) => StageOutcome.Empty;

    public void Dispose() { }
}
