namespace Distill.Stages.Flow;

/// <summary>The student side of a distillation stage: owns the student model and optimizer.
/// Called from one thread at a time. <see cref="Consume"/> is called once per shard (duplicates are filtered
/// before it), then <see cref="Complete"/> once after every shard has been consumed.</summary>
public interface IStudentStep : IDisposable
{
    /// <summary>Trains on (or evaluates, for held-out shards) one <c>teacher/v2</c> batch.</summary>
    StepReport Consume(int shardId, byte[] teacherBatch);

    /// <summary>Finishes the stage (remaining epochs, held-out evaluation, checkpoint) and returns its outcome.</summary>
    StageOutcome Complete(IStageProgress progress, CancellationToken cancellation);
}
