namespace Distill.Stages.Flow;

/// <summary>One entry of <c>distill.stages</c>, as the supervisor runs it. Factories are called when the stage
/// starts (not before), on a compute thread, so a stage can read what earlier stages wrote.</summary>
public abstract record StageDefinition(string Name);

/// <summary>A stage that is one piece of synchronous work (teacher pretraining, evaluation).</summary>
public sealed record ComputeStage(string Name, Func<IStageProgress, CancellationToken, StageOutcome> Run)
    : StageDefinition(Name);

/// <summary>A teacher-to-student stage run as a dataflow: loaders read shards from <see cref="Source"/>, teacher
/// workers (each made by <see cref="CreateTeacher"/>) turn them into teacher batches, one trainer
/// (<see cref="CreateStudent"/>) consumes them.</summary>
public sealed record DistillStage(
    string Name,
    Func<IShardSource> CreateSource,
    Func<ITeacherStep> CreateTeacher,
    Func<IStudentStep> CreateStudent) : StageDefinition(Name)
{
    /// <summary>The stage's teacher-output cache (DESIGN 8); null = none, every shard goes to a teacher. The
    /// composition root sets it for every distillation stage, keyed by the stage's name.</summary>
    public Cache.StageCacheSpec? Cache { get; init; }
}
