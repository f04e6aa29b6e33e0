using Distill.Stages.Flow;

namespace Distill.Stages.Tests;

/// <summary>Keeps every progress report, in order, and hands each to <c>onReport</c> (to stop a run at a report).</summary>
public sealed class RecordingProgress(Action<StageProgress>? onReport = null) : IStageProgress
{
    private readonly object _gate = new();
    private readonly List<StageProgress> _reports = new();

    public IReadOnlyList<StageProgress> Reports
    {
        get { lock (_gate) return _reports.ToList(); }
    }

    public void Report(StageProgress progress)
    {
        lock (_gate) _reports.Add(progress);
        onReport?.Invoke(progress);
    }
}
