namespace Distill.Pipeline.Bench;

/// <summary>Trainer utilisation and the cost of Arrow and messaging in one student stage with live teachers (issue 5,
/// item 7b); medians over the live runs. Per-shard times in milliseconds.</summary>
/// <param name="BusyFraction">the trainer's <c>trainer_busy_fraction</c>: time inside the student's Consume / wall
/// time from the student being ready to the last batch consumed.</param>
/// <param name="TeacherStepMs">one teacher call (Infer) per shard.</param>
/// <param name="TeacherEncodeMs">of which writing the <c>teacher/v2</c> batch.</param>
/// <param name="TeacherDecodeMs">of which reading the <c>samples/v1</c> shard.</param>
/// <param name="StudentStepMs">one student call (Consume) per shard.</param>
/// <param name="StudentDecodeMs">of which reading the <c>teacher/v2</c> batch.</param>
/// <param name="MessagingMs">per shard handed over in memory: teacher call end -> student call start, beyond the
/// time the student was still busy (<see cref="FlowStageTimes.Messaging"/>).</param>
public sealed record UtilisationRow(
    string Stage,
    double BusyFraction,
    double StreamSeconds,
    double ConsumeSeconds,
    double CompleteSeconds,
    double TeacherStepMs,
    double TeacherEncodeMs,
    double TeacherDecodeMs,
    double StudentStepMs,
    double StudentDecodeMs,
    double MessagingMs,
    int Shards,
    int DeliveredShards)
{
    public double TeacherEncodeShare => TeacherEncodeMs / TeacherStepMs;
    public double TeacherDecodeShare => TeacherDecodeMs / TeacherStepMs;
    public double StudentDecodeShare => StudentDecodeMs / StudentStepMs;
    /// <summary>Messaging per shard / the work of a shard (teacher step + student step).</summary>
    public double MessagingShare => MessagingMs / (TeacherStepMs + StudentStepMs);

    /// <summary>Arrow encode + decode on both sides and messaging, per shard, as a share of one teacher step plus one
    /// student step (the work a shard needs).</summary>
    public double OverheadShare => (TeacherEncodeMs + TeacherDecodeMs + StudentDecodeMs + MessagingMs) / (TeacherStepMs + StudentStepMs);
}

/// <summary>Wall time of one student stage (or of all, <see cref="PipelineBench.Total"/>) live, replayed from the
/// cache through the actors, and fed from memory without actors (the limit); medians over the rounds, in seconds.</summary>
/// <param name="LiveStreamSeconds">live: the trainer's streaming phase (student ready -> last batch consumed).</param>
/// <param name="ReplayStreamSeconds">replay: the same.</param>
/// <param name="LimitConsumeSeconds">the limit: consuming every batch (the streaming phase without actors).</param>
public sealed record ReplayRow(
    string Stage,
    double LiveSeconds,
    double ReplaySeconds,
    double LimitSeconds,
    double LiveStreamSeconds,
    double ReplayStreamSeconds,
    double LimitConsumeSeconds,
    double ReplayBusyFraction)
{
    public double ReplayVsLive => ReplaySeconds / LiveSeconds;
    public double ReplayVsLimit => ReplaySeconds / LimitSeconds;
    public double LiveVsLimit => LiveSeconds / LimitSeconds;
}

/// <summary>One distillation stage with a teacher faster than its student (stand-ins on another machine, see
/// <see cref="StudentStageBench.OverlapAsync"/>); medians over the rounds, in seconds.</summary>
/// <param name="TeacherSeconds">the stand-in teachers' first call to last answer.</param>
/// <param name="StudentSeconds">the student step alone, fed from memory (the limit).</param>
/// <param name="WallSeconds">the stage through the actors with the stand-ins.</param>
/// <param name="BusyFraction">the trainer's busy fraction while the batches streamed in.</param>
public sealed record OverlapRow(string Stage, double LatencyMs, double TeacherSeconds, double StudentSeconds, double WallSeconds,
    double StreamSeconds, double BusyFraction)
{
    /// <summary>The stage's wall time over the longer of its two sides (1 = a perfect overlap).</summary>
    public double WallOverMax => WallSeconds / Math.Max(TeacherSeconds, StudentSeconds);
}

/// <summary>Everything <c>distill bench pipeline</c> measured, with the notes on how.</summary>
/// <param name="Sizes">what the student stages ran on (samples, shards, models), for the tables' heading; empty when
/// neither scaling nor the stages were measured.</param>
/// <param name="Codec">the compact cache at a real vocabulary (f), or null when not measured.</param>
public sealed record PipelineBenchResult(
    string Preset,
    MachineInfo Machine,
    string Sizes,
    double LatencyMs,
    int Repeats,
    IReadOnlyList<ScalingRow> Scaling,
    IReadOnlyList<UtilisationRow> Utilisation,
    IReadOnlyList<ReplayRow> Replay,
    IReadOnlyList<CacheBytesRow> Cache,
    IReadOnlyList<OverlapRow> Overlap,
    CacheCodecResult? Codec,
    IReadOnlyList<string> Notes)
{
    /// <summary>The mimic stage's peak memory at the preset's data and more (g); empty when not measured.</summary>
    public IReadOnlyList<MemoryRow> Memory { get; init; } = [];
}
