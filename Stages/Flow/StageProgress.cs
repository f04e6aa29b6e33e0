namespace Distill.Stages.Flow;

/// <summary>A progress update from long work: stage, what phase, step i of n, throughput and current loss.</summary>
public sealed record StageProgress(string Stage, string Phase, long Step, long TotalSteps, double SamplesPerSecond, double Loss);

/// <summary>Receives progress; implementations must be thread-safe (called from compute threads).</summary>
public interface IStageProgress
{
    void Report(StageProgress progress);
}

/// <summary>Drops every update; for tests and callers that do not display progress.</summary>
public sealed class NullStageProgress : IStageProgress
{
    public static NullStageProgress Instance { get; } = new();
    public void Report(StageProgress progress) { }
}
