using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>Owns the stage's student (made on start, disposed on stop) and runs its compute on the compute
/// dispatcher, so the trainer in front of it keeps answering while a step runs. Reports to its parent.
/// After a failure it ignores further work. Measures how busy the student was while the batches streamed in and adds
/// it to the stage's figures (<see cref="BusyFigures"/>).</summary>
public sealed class StudentHost : ReceiveActor
{
    private readonly Func<IStudentStep> _createStudent;
    private readonly IStageProgress _progress;
    private readonly CancellationToken _cancellation;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IStudentStep? _student;
    private long _readyAt;
    private long _consumeTicks;
    private long _streamTicks = -1;

    /// <summary>Figures every stage outcome gets: <c>trainer_consume_seconds</c> (inside the student's Consume),
    /// <c>trainer_stream_seconds</c> (wall time from the student being ready to the last shard consumed, i.e. while
    /// the batches streamed in), <c>trainer_busy_fraction</c> (consume / stream; 1 = the student never waited for a
    /// batch), <c>trainer_complete_seconds</c> (inside Complete: later epochs, evaluation, checkpoint) and, for a
    /// student that times its Arrow decoding, <c>trainer_arrow_decode_seconds</c>.</summary>
    public static readonly IReadOnlyList<string> BusyFigures =
    [
        "trainer_consume_seconds", "trainer_stream_seconds", "trainer_busy_fraction", "trainer_complete_seconds",
        "trainer_arrow_decode_seconds",
    ];

    public static Props Props(Func<IStudentStep> createStudent, IStageProgress progress, CancellationToken cancellation) =>
        Akka.Actor.Props.Create(() => new StudentHost(createStudent, progress, cancellation))
            .WithDispatcher(DistillActorsConfig.ComputeDispatcher);

    public StudentHost(Func<IStudentStep> createStudent, IStageProgress progress, CancellationToken cancellation)
    {
        _createStudent = createStudent;
        _progress = progress;
        _cancellation = cancellation;
        Receive<ConsumeShard>(Consume);
        Receive<CompleteStudent>(_ => Complete());
    }

    protected override void PreStart()
    {
        try
        {
            _student = _createStudent();
            _readyAt = Stopwatch.GetTimestamp();
        }
        catch (Exception ex)
        {
            Fail(ex, "creating the student failed");
        }
    }

    protected override void PostStop() => DisposeStudent();

    private void DisposeStudent()
    {
        try
        {
            _student?.Dispose();
        }
        catch (Exception ex)
        {
            _log.Warning("Disposing the student failed: {0}", ex.Message);
        }
        _student = null;
    }

    private void Consume(ConsumeShard shard)
    {
        if (_student is null) return;
        try
        {
            var start = Stopwatch.GetTimestamp();
            var report = _student.Consume(shard.ShardId, shard.Outputs);
            _consumeTicks += Stopwatch.GetTimestamp() - start;
            Context.Parent.Tell(new ShardTrained(shard.ShardId, report.Samples, report.Loss));
        }
        catch (Exception ex)
        {
            Fail(ex, $"consuming shard {shard.ShardId} failed");
        }
    }

    private void Complete()
    {
        if (_student is null) return;
        try
        {
            if (_streamTicks < 0) _streamTicks = Stopwatch.GetTimestamp() - _readyAt;
            var start = Stopwatch.GetTimestamp();
            var outcome = _student.Complete(_progress, _cancellation) ?? StageOutcome.Empty;
            var complete = Stopwatch.GetElapsedTime(start);
            Context.Parent.Tell(new StudentCompleted(WithBusyFigures(outcome, complete)));
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            Context.Parent.Tell(new StudentFailed("cancelled"));
            DisposeStudent();
        }
        catch (Exception ex)
        {
            Fail(ex, "completing the student failed");
        }
    }

    /// <summary>The outcome with <see cref="BusyFigures"/> added after the student's own (which win on a clash).</summary>
    private StageOutcome WithBusyFigures(StageOutcome outcome, TimeSpan complete)
    {
        var consume = Stopwatch.GetElapsedTime(0, _consumeTicks).TotalSeconds;
        var stream = Stopwatch.GetElapsedTime(0, _streamTicks).TotalSeconds;
        var figures = new Dictionary<string, double>(outcome.Figures);
        figures.TryAdd("trainer_consume_seconds", consume);
        figures.TryAdd("trainer_stream_seconds", stream);
        figures.TryAdd("trainer_busy_fraction", stream > 0 ? Math.Min(1, consume / stream) : double.NaN);
        figures.TryAdd("trainer_complete_seconds", complete.TotalSeconds);
        if (_student is IArrowCodecTimed timed) figures.TryAdd("trainer_arrow_decode_seconds", timed.ArrowTime.Decode.TotalSeconds);
        return outcome with { Figures = figures };
    }

    private void Fail(Exception ex, string what)
    {
        _log.Error(ex, what);
        Context.Parent.Tell(new StudentFailed($"{what}: {ErrorDetail.OneLine(ex)}", ErrorDetail.Of(ex)));
        DisposeStudent();
    }
}
