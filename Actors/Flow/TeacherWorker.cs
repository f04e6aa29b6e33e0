using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>One teacher replica on its own compute thread. Pulls work from the coordinator
/// (<see cref="RequestWork"/>), turns each loaded <c>samples/v1</c> shard into a <c>teacher/v2</c> batch for the
/// trainer (in parts of whole rows when it is larger than the batch limit), and reports the outcome of every lease.
/// Its teacher is made on start and disposed on stop.</summary>
public sealed class TeacherWorker : ReceiveActor
{
    private readonly Func<ITeacherStep> _createTeacher;
    private readonly IActorRef _coordinator;
    private readonly IActorRef _trainer;
    private readonly int _prefetch;
    private readonly long _maxBatchBytes;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private ITeacherStep? _teacher;

    /// <param name="maxBatchBytes">a teacher batch larger than this goes to the trainer in parts
    /// (<see cref="TeacherBatchPart"/>), each at most this large.</param>
    public static Props Props(Func<ITeacherStep> createTeacher, IActorRef coordinator, IActorRef trainer, int prefetch,
        long maxBatchBytes = long.MaxValue) =>
        Akka.Actor.Props.Create(() => new TeacherWorker(createTeacher, coordinator, trainer, prefetch, maxBatchBytes))
            .WithDispatcher(DistillActorsConfig.ComputeDispatcher);

    public TeacherWorker(Func<ITeacherStep> createTeacher, IActorRef coordinator, IActorRef trainer, int prefetch,
        long maxBatchBytes)
    {
        _createTeacher = createTeacher;
        _coordinator = coordinator;
        _trainer = trainer;
        _prefetch = Math.Max(1, prefetch);
        _maxBatchBytes = Math.Max(1, maxBatchBytes);
        Receive<ShardLoaded>(Infer);
        Receive<ShardLoadFailed>(failed =>
        {
            _coordinator.Tell(new ShardFailed(failed.ShardId, failed.Attempt, failed.Error, failed.Detail));
            _coordinator.Tell(new RequestWork(1));
        });
    }

    protected override void PreStart()
    {
        try
        {
            _teacher = _createTeacher();
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Creating the teacher failed");
            _coordinator.Tell(new ComponentFailed($"teacher worker {Self.Path.Name}", $"creating the teacher failed: {ErrorDetail.OneLine(ex)}",
                ErrorDetail.Of(ex)));
            return;
        }
        _coordinator.Tell(new RequestWork(_prefetch));
    }

    protected override void PostStop()
    {
        try
        {
            _teacher?.Dispose();
        }
        catch (Exception ex)
        {
            _log.Warning("Disposing the teacher failed: {0}", ex.Message);
        }
        _teacher = null;
    }

    /// <summary>Fault drill <c>DISTILL_FAULT_TEACHER_DELAY_MS</c> (see <see cref="FaultDrills"/>): every inference takes
    /// at least that long. Unset (the normal case): no delay.</summary>
    private static int FaultDelayMs => FaultDrills.TeacherDelayMs;

    private void Infer(ShardLoaded shard)
    {
        if (_teacher is null) return; // failed to start; the stage is failing
        _coordinator.Tell(new ShardStarted(shard.ShardId, shard.Attempt));
        _log.Info("Inferring shard {0} (attempt {1})", shard.ShardId, shard.Attempt);
        byte[] output;
        IReadOnlyList<byte[]> parts;
        try
        {
            if (FaultDelayMs > 0) Thread.Sleep(FaultDelayMs);
            output = _teacher.Infer(shard.SamplesV1);
            parts = ArrowBatchSplitter.Split(output, _maxBatchBytes);
        }
        catch (OversizedRowException ex)
        {
            // The same row would be too large on every attempt: the stage cannot go on without dropping it.
            _log.Error("Shard {0}: {1}", shard.ShardId, ex.Message);
            _coordinator.Tell(new ComponentFailed($"teacher worker {Self.Path.Name}", $"shard {shard.ShardId}: {ErrorDetail.OneLine(ex)}",
                ErrorDetail.Of(ex)));
            return;
        }
        catch (Exception ex)
        {
            _log.Warning("Teacher inference on shard {0} (attempt {1}) failed: {2}", shard.ShardId, shard.Attempt, ex.Message);
            _coordinator.Tell(new ShardFailed(shard.ShardId, shard.Attempt, $"teacher inference failed: {ErrorDetail.OneLine(ex)}",
                ErrorDetail.Of(ex)));
            _coordinator.Tell(new RequestWork(1));
            return;
        }
        if (parts.Count == 1)
        {
            _trainer.Tell(new TeacherBatch(shard.ShardId, shard.Attempt, output));
        }
        else
        {
            _log.Info("Shard {0}: teacher batch of {1} bytes sent in {2} parts of at most {3} bytes",
                shard.ShardId, output.Length, parts.Count, _maxBatchBytes);
            for (var i = 0; i < parts.Count; i++)
                _trainer.Tell(new TeacherBatchPart(shard.ShardId, shard.Attempt, i, parts.Count, parts[i]));
        }
        _coordinator.Tell(new ShardInferred(shard.ShardId, shard.Attempt));
        _coordinator.Tell(new RequestWork(1));
    }
}
