using Distill.Pipeline.Runs;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Composition;

/// <summary>Adds the figure <see cref="PeakFigure"/> to every stage's outcome: the peak resident memory of this
/// process while the stage ran (Linux; no figure elsewhere). The peak is reset when a compute stage starts and when a
/// distillation stage's student is made (the stage's start: the supervisor runs one stage at a time), after a full
/// garbage collection and handing freed memory back to the system, so what earlier stages left unused does not count.
/// In a cluster the figure is the coordinator's (teacher nodes are other processes).</summary>
public static class StageMemory
{
    public const string PeakFigure = "rss_peak_bytes";

    public static IReadOnlyList<StageDefinition> Attach(IReadOnlyList<StageDefinition> stages) =>
        stages.Select(stage => stage switch
        {
            ComputeStage c => c with { Run = (progress, ct) => { Start(); return WithPeak(c.Run(progress, ct)); } },
            DistillStage d => d with { CreateStudent = () => { Start(); return new Measured(d.CreateStudent()); } },
            _ => stage,
        }).ToList();

    private static void Start()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        ProcessMemory.ReleaseFreed();
        ProcessMemory.ResetPeak();
    }

    private static StageOutcome WithPeak(StageOutcome outcome)
    {
        if (ProcessMemory.Peak is not { } peak) return outcome;
        var figures = new Dictionary<string, double>(outcome.Figures, StringComparer.Ordinal) { [PeakFigure] = peak };
        return outcome with { Figures = figures };
    }

    /// <summary>The student step, its outcome with the peak.</summary>
    private sealed class Measured(IStudentStep inner) : IStudentStep, IArrowCodecTimed
    {
        public ArrowCodecTime ArrowTime => (inner as IArrowCodecTimed)?.ArrowTime ?? ArrowCodecTime.Zero;
        public StepReport Consume(int shardId, byte[] teacherBatch) => inner.Consume(shardId, teacherBatch);
        public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) => WithPeak(inner.Complete(progress, cancellation));
        public void Dispose() => inner.Dispose();
    }
}
