using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>The student's front: takes teacher batches (from teacher workers, <see cref="TeacherBatch"/>, joining a batch
/// that came in parts, <see cref="TeacherBatchPart"/>, or from
/// the cache, <see cref="CachedBatch"/>), drops any shard it has already taken (exactly-once consumption), hands
/// the rest to its <see cref="StudentHost"/> child, and acks every consumed shard to the coordinator, which then
/// grants more credit. The first teacher-made batch of each shard also goes to the cache keeper, so every batch
/// is written once. Without strict ordering shards are consumed in arrival order; with it, in shard-id order
/// (later arrivals wait here), so a live run and a replay train on the same sequence. Stays responsive while the
/// host computes.</summary>
public sealed class Trainer : ReceiveActor
{
    private readonly Func<IStudentStep> _createStudent;
    private readonly IActorRef _coordinator;
    private readonly IStageProgress _progress;
    private readonly CancellationToken _cancellation;
    private readonly bool _strictOrder;
    private readonly IActorRef _cacheWriter;
    private readonly HashSet<int> _taken = new();
    private readonly SortedDictionary<int, byte[]> _held = new();
    private readonly Dictionary<(int Shard, int Attempt), byte[]?[]> _parts = new();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private IActorRef _host = ActorRefs.Nobody;
    private string? _hostError;
    private ErrorDetail? _hostDetail;
    private bool _finished;
    private int _duplicates;
    private int _nextInOrder;

    public static Props Props(Func<IStudentStep> createStudent, IActorRef coordinator, IStageProgress progress,
        CancellationToken cancellation) =>
        Props(createStudent, coordinator, progress, cancellation, strictOrder: false, cacheWriter: null);

    /// <param name="strictOrder">consume shards in id order 0, 1, 2, ... (see <see cref="FlowSettings.StrictOrder"/>).</param>
    /// <param name="cacheWriter">receives <see cref="WriteCachedShard"/> for the first teacher batch of each shard;
    /// null when the stage writes no cache.</param>
    public static Props Props(Func<IStudentStep> createStudent, IActorRef coordinator, IStageProgress progress,
        CancellationToken cancellation, bool strictOrder, IActorRef? cacheWriter) =>
        Akka.Actor.Props.Create(() => new Trainer(createStudent, coordinator, progress, cancellation, strictOrder,
            cacheWriter ?? ActorRefs.Nobody));

    public Trainer(Func<IStudentStep> createStudent, IActorRef coordinator, IStageProgress progress,
        CancellationToken cancellation, bool strictOrder, IActorRef cacheWriter)
    {
        _createStudent = createStudent;
        _coordinator = coordinator;
        _progress = progress;
        _cancellation = cancellation;
        _strictOrder = strictOrder;
        _cacheWriter = cacheWriter;

        Receive<TeacherBatch>(TakeTeacherBatch);
        Receive<TeacherBatchPart>(TakePart);
        Receive<CachedBatch>(batch => Take(batch.ShardId, 0, batch.Batch));
        Receive<ShardTrained>(t => _coordinator.Tell(new ShardConsumed(t.ShardId, t.Samples, t.Loss)));
        Receive<CompleteTraining>(_ => _host.Tell(CompleteStudent.Instance));
        Receive<StudentCompleted>(done =>
        {
            _finished = true;
            _coordinator.Tell(new TrainingCompleted(done.Outcome));
        });
        Receive<StudentFailed>(failed => Fail(failed.Error, failed.Detail));
        Receive<Terminated>(t => t.ActorRef.Equals(_host), _ =>
            Fail(_hostError is null ? "the student host stopped unexpectedly" : $"the student host crashed: {_hostError}", _hostDetail));
    }

    protected override void PreStart()
    {
        _host = Context.ActorOf(StudentHost.Props(_createStudent, _progress, _cancellation), "student");
        Context.Watch(_host);
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _hostError = ErrorDetail.OneLine(ex);
            _hostDetail = ErrorDetail.Of(ex);
            return Directive.Stop;
        });

    /// <summary>Most parts one batch can be cut into: every part holds at least one row, and a shard at most 65,536
    /// rows (<c>distill.parallelism.shard-size</c>).</summary>
    public const int MaxParts = 65536;

    /// <summary>A teacher-made batch: taken (and passed to the cache keeper) unless the shard was taken before.</summary>
    private void TakeTeacherBatch(TeacherBatch batch)
    {
        foreach (var stale in _parts.Keys.Where(k => k.Shard == batch.ShardId).ToList()) _parts.Remove(stale);
        if (!Take(batch.ShardId, batch.Attempt, batch.Outputs)) return;
        if (!_cacheWriter.IsNobody()) _cacheWriter.Tell(new WriteCachedShard(batch.ShardId, batch.Outputs));
    }

    /// <summary>Collects the parts of one attempt's batch; with the last one, joins them and takes the batch. A part
    /// that does not fit (bad index or count) or a join that fails fails that attempt, so the shard is re-leased.</summary>
    private void TakePart(TeacherBatchPart part)
    {
        if (_finished || _taken.Contains(part.ShardId)) return;
        var key = (part.ShardId, part.Attempt);
        if (part.Parts is < 1 or > MaxParts)    // before allocating the slots: the count comes off the wire
        {
            _parts.Remove(key);
            _coordinator.Tell(new ShardFailed(part.ShardId, part.Attempt,
                $"teacher batch part {part.Part + 1} of {part.Parts}: a batch has 1..{MaxParts} parts (at least one row each)"));
            return;
        }
        if (!_parts.TryGetValue(key, out var slots)) _parts[key] = slots = new byte[]?[part.Parts];
        if (part.Parts != slots.Length || part.Part < 0 || part.Part >= part.Parts || slots[part.Part] is not null)
        {
            _parts.Remove(key);
            _coordinator.Tell(new ShardFailed(part.ShardId, part.Attempt,
                $"teacher batch part {part.Part + 1} of {part.Parts} does not fit the {slots.Length} parts received so far"));
            return;
        }
        slots[part.Part] = part.Bytes;
        if (slots.Any(s => s is null)) return;

        _parts.Remove(key);
        byte[] joined;
        try
        {
            joined = ArrowBatchSplitter.Join(slots!);
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException)
        {
            _coordinator.Tell(new ShardFailed(part.ShardId, part.Attempt,
                $"joining the {slots.Length} parts of its teacher batch failed: {ErrorDetail.OneLine(ex)}", ErrorDetail.Of(ex)));
            return;
        }
        TakeTeacherBatch(new TeacherBatch(part.ShardId, part.Attempt, joined));
    }

    /// <summary>Takes the shard's batch unless it was taken before; false for a duplicate.</summary>
    private bool Take(int shard, int attempt, byte[] batch)
    {
        if (_finished) return false;
        if (!_taken.Add(shard))
        {
            _duplicates++;
            _log.Debug("Dropped duplicate teacher batch for shard {0} (attempt {1}); {2} duplicates so far",
                shard, attempt, _duplicates);
            return false;
        }
        if (!_strictOrder)
        {
            _host.Tell(new ConsumeShard(shard, batch));
            return true;
        }
        _held[shard] = batch;
        while (_held.Remove(_nextInOrder, out var next))
        {
            _host.Tell(new ConsumeShard(_nextInOrder, next));
            _nextInOrder++;
        }
        return true;
    }

    private void Fail(string error, ErrorDetail? detail)
    {
        if (_finished) return;
        _finished = true;
        _coordinator.Tell(new ComponentFailed("student", error, detail));
    }
}
