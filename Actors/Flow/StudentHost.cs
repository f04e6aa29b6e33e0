using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>Owns the stage's student (made on start, disposed on stop) and runs its compute on the compute
/// dispatcher, so the trainer in front of it keeps answering while a step runs. Reports to its parent.
/// After a failure it ignores further work.</summary>
public sealed class StudentHost : ReceiveActor
{
    private readonly Func<IStudentStep> _createStudent;
    private readonly IStageProgress _progress;
    private readonly CancellationToken _cancellation;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IStudentStep? _student;

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
            var report = _student.Consume(shard.ShardId, shard.TeacherV1);
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
            var outcome = _student.Complete(_progress, _cancellation) ?? StageOutcome.Empty;
            Context.Parent.Tell(new StudentCompleted(outcome));
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

    private void Fail(Exception ex, string what)
    {
        _log.Error(ex, what);
        Context.Parent.Tell(new StudentFailed($"{what}: {ex.Message}"));
        DisposeStudent();
    }
}
