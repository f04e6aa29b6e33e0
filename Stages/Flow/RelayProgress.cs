namespace Distill.Stages.Flow;

/// <summary>Progress that goes to <see cref="Target"/>, which may change: a student step's training reports to the
/// stream's progress while the batches arrive, then to the one <see cref="IStudentStep.Complete"/> is given.</summary>
public sealed class RelayProgress(IStageProgress target) : IStageProgress
{
    public IStageProgress Target { get; set; } = target;

    public void Report(StageProgress progress) => Target.Report(progress);
}
