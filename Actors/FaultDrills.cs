namespace Distill.Actors;

/// <summary>Fault drills: environment variables that make a process fail on purpose, so tests can drive the real
/// binary (through run.sh) into failures that cannot be staged from inside a test host. Unset (the normal case):
/// nothing happens.
/// <list type="bullet">
/// <item><c>DISTILL_FAULT_TEACHER_DELAY_MS=N</c>: every teacher inference takes at least N ms (the teacher worker
/// runs on the compute dispatcher, where blocking is expected), so a test can kill a teacher node while it surely
/// holds a lease.</item>
/// <item><c>DISTILL_FAULT_ABORT_STAGE=STAGE</c>: the process aborts (<see cref="Environment.FailFast(string)"/>,
/// SIGABRT on Linux; no handler of the process runs) as stage STAGE starts, after the ledger records the start: a
/// stand-in for a hard native crash.</item>
/// <item><c>DISTILL_FAULT_THROW_STAGE=STAGE</c>: as stage STAGE starts, a thread of its own throws an exception
/// that nothing catches, so the process dies of an unhandled exception.</item>
/// </list></summary>
public static class FaultDrills
{
    public const string TeacherDelayVariable = "DISTILL_FAULT_TEACHER_DELAY_MS";
    public const string AbortStageVariable = "DISTILL_FAULT_ABORT_STAGE";
    public const string ThrowStageVariable = "DISTILL_FAULT_THROW_STAGE";

    /// <summary>The teacher drill's delay in ms; 0 when unset.</summary>
    public static int TeacherDelayMs { get; } =
        int.TryParse(Environment.GetEnvironmentVariable(TeacherDelayVariable), out var ms) && ms > 0 ? ms : 0;

    private static readonly string? AbortStage = Environment.GetEnvironmentVariable(AbortStageVariable);
    private static readonly string? ThrowStage = Environment.GetEnvironmentVariable(ThrowStageVariable);

    /// <summary>Called by the supervisor as each stage starts: runs the stage drills that name it.</summary>
    public static void AtStageStart(string stage)
    {
        if (string.Equals(AbortStage, stage, StringComparison.Ordinal))
            Environment.FailFast($"fault drill: {AbortStageVariable}={stage} aborts the process as stage {stage} starts");
        if (string.Equals(ThrowStage, stage, StringComparison.Ordinal))
        {
            var thread = new Thread(() => throw new InvalidOperationException(
                $"fault drill: {ThrowStageVariable}={stage} throws this on a thread of its own as stage {stage} starts"))
            {
                IsBackground = true,
                Name = "fault-drill",
            };
            thread.Start();
        }
    }
}
