using System.Diagnostics;
using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Cache;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>Runs one <see cref="DistillStage"/>: owns the shard queue, leases and credits (<see cref="ShardBook"/>),
/// starts the trainer, loaders and teacher workers as children, hands out leases to workers that ask while the
/// credit window has room, takes leases back when they expire or their worker dies, retries failed shards up to
/// <see cref="FlowSettings.MaxShardAttempts"/>, and when every shard is consumed has the trainer complete the
/// student. Reports <see cref="StageSucceeded"/> or <see cref="StageFailed"/> to its parent.
/// With a cache (<see cref="DistillStage.Cache"/>) a <see cref="CacheKeeper"/> child opens it once the shard count
/// is known; shards with a verified part are read from it (within the same credit window) instead of leased, and
/// teacher workers are started only when some shard needs a teacher; in replay mode none ever is. A part found bad
/// goes to a teacher instead (in replay it fails the stage). The outcome's figures count shards from the cache and
/// from teachers. In cluster mode (<see cref="FlowSettings.TeacherNodes"/>) the loaders and teacher workers run on
/// teacher nodes instead of as children (see StageCoordinator.Remote.cs).
///
/// States (behaviours): <see cref="WaitingForShards"/> (until a loader reports the shard count), with a cache
/// <see cref="OpeningCache"/> (until the keeper reports the cached shards), <see cref="Streaming"/> (leases, cache reads,
/// consumption), <see cref="Completing"/> (every shard consumed: the student completes and the cache is confirmed)
/// and finished (it only waits to be stopped). A worker or loader that is gone, here or on a teacher node, has its
/// leases taken back in one place (<see cref="Revoke"/>).</summary>
public sealed partial class StageCoordinator : ReceiveActor, IWithTimers
{
    private const string LeaseTimer = "leases";

    private readonly DistillStage _stage;
    private readonly FlowSettings _settings;
    private readonly IStageProgress _progress;
    private readonly CancellationToken _cancellation;
    private readonly ShardBook _book;
    private readonly Lazy<IShardSource> _source;
    private readonly HashSet<IActorRef> _workers = new();
    private readonly Dictionary<IActorRef, int> _demand = new();
    private readonly List<IActorRef> _loaders = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly StageCacheSpec? _cacheSpec;
    private readonly HashSet<int> _fromCache = new();
    private IActorRef _trainer = ActorRefs.Nobody;
    private IActorRef _cacheKeeper = ActorRefs.Nobody;
    private bool _workersStarted;
    private int _consumedFromCache;
    private StageOutcome? _trained;
    private CacheFinished? _cacheFinished;
    private int _workerSeq;
    private int _loaderSeq;
    private int _nextLoader;
    private int _respawnsLeft;
    private long _samples;
    private double _lastLoss = double.NaN;
    private string? _lastChildError;
    private ErrorDetail? _lastChildDetail;

    public ITimerScheduler Timers { get; set; } = null!;

    public static Props Props(DistillStage stage, FlowSettings settings, IStageProgress progress,
        CancellationToken cancellation) =>
        Akka.Actor.Props.Create(() => new StageCoordinator(stage, settings, progress, cancellation));

    public StageCoordinator(DistillStage stage, FlowSettings settings, IStageProgress progress,
        CancellationToken cancellation)
    {
        _stage = stage;
        _settings = settings.Validate();
        _progress = progress;
        _cancellation = cancellation;
        _book = new ShardBook(settings.CreditWindow, settings.MaxShardAttempts, settings.StrictOrder);
        _cacheSpec = stage.Cache is { Mode: not CacheMode.Off } cache ? cache : null;
        _source = new Lazy<IShardSource>(stage.CreateSource, LazyThreadSafetyMode.ExecutionAndPublication);
        _respawnsLeft = (settings.TeacherWorkers + settings.Loaders) * settings.MaxShardAttempts;
        WaitingForShards();
    }

    private TimeSpan Now => _clock.Elapsed;
    private ShardCounts Counts => new(_book.Issued, _book.Reissued, _book.Consumed);

    protected override void PreStart()
    {
        if (_cacheSpec is not null)
        {
            _cacheKeeper = Context.ActorOf(CacheKeeper.Props(_cacheSpec, _cacheSpec.Stage ?? _stage.Name, Self, _source), "cache");
            Context.Watch(_cacheKeeper);
        }
        _trainer = Context.ActorOf(Trainer.Props(_stage.CreateStudent, Self, _progress, _cancellation,
            _settings.StrictOrder, _cacheSpec?.Mode.Writes() == true ? _cacheKeeper : null), "trainer");
        Context.Watch(_trainer);
        if (RemoteMode)
        {
            StartRemote(); // teacher nodes bring the loaders (and so the shard count) and the workers
        }
        else
        {
            for (var i = 0; i < _settings.Loaders; i++) SpawnLoader();
            if (_cacheSpec is null) StartWorkers(); // with a cache: once it is known which shards need a teacher
        }
        var tick = TimeSpan.FromTicks(Math.Clamp(_settings.LeaseTimeout.Ticks / 4,
            TimeSpan.FromMilliseconds(10).Ticks, TimeSpan.FromSeconds(1).Ticks));
        Timers.StartPeriodicTimer(LeaseTimer, CheckLeases.Instance, tick);
    }

    protected override void PostStop()
    {
        // Children have stopped by now, so no loader still reads the source.
        if (_source.IsValueCreated && _source.Value is IDisposable disposable)
        {
            try { disposable.Dispose(); }
            catch (Exception ex) { _log.Warning("Disposing the shard source failed: {0}", ex.Message); }
        }
    }

    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(ex =>
        {
            _lastChildError = ErrorDetail.OneLine(ex);
            _lastChildDetail = ErrorDetail.Of(ex);
            return Directive.Stop; // every child is watched; Terminated decides what happens next
        });

    /// <summary>Until a loader reports how many shards the stage has; teacher workers may already ask for work.</summary>
    private void WaitingForShards()
    {
        Receive<SourceReady>(ready =>
        {
            _book.Initialize(ready.ShardCount);
            _log.Info("Stage {0}: {1} shards", _stage.Name, ready.ShardCount);
            Report(double.NaN);
            if (_cacheSpec is not null)
            {
                _cacheKeeper.Tell(new OpenCache(ready.ShardCount, _trainer));
                Become(OpeningCache);
                return;
            }
            BecomeStreaming();
        });
        Receive<RequestWork>(AddDemand);
        Receive<CheckLeases>(_ => { });
        WhileRunning(streaming: false);
    }

    /// <summary>Until the cache keeper reports which shards have a verified part.</summary>
    private void OpeningCache()
    {
        Receive<SourceReady>(CheckShardCount);
        Receive<CacheOpened>(opened =>
        {
            _book.MarkCached(opened.Cached);
            var teacher = _book.WaitingForTeacher;
            _log.Info("Stage {0}: cache {1} ({2}): {3} of {4} shards cached, {5} for the teacher",
                _stage.Name, opened.Directory, _cacheSpec!.Mode.Name(), opened.Cached.Count, _book.Total, teacher);
            if (teacher > 0)
            {
                if (_cacheSpec.Mode == CacheMode.Replay)
                {
                    FailStage($"cache {opened.Directory} lacks {teacher} shard(s) and replay runs no teacher");
                    return;
                }
                StartWorkers();
            }
            BecomeStreaming();
        });
        Receive<RequestWork>(AddDemand);
        Receive<CheckLeases>(_ => { });
        WhileRunning(streaming: false);
    }

    private void BecomeStreaming()
    {
        Become(Streaming);
        Dispatch();
    }

    /// <summary>Leases and cache reads go out while the credit window has room; consumed shards free it.</summary>
    private void Streaming()
    {
        Receive<SourceReady>(CheckShardCount);
        Receive<CachedShardBad>(CachedShardBad);
        Receive<RequestWork>(request =>
        {
            AddDemand(request);
            Dispatch();
        });
        Receive<ShardStarted>(started => _book.Start(started.ShardId, started.Attempt, Now + _settings.LeaseTimeout));
        Receive<ShardInferred>(inferred => _book.Deliver(inferred.ShardId, inferred.Attempt));
        Receive<ShardFailed>(failed =>
        {
            if (_book.Fail(failed.ShardId, failed.Attempt, failed.Error, failed.Detail) is { } requeued && Requeue([requeued]))
                Dispatch();
        });
        Receive<ShardConsumed>(Consumed);
        Receive<CheckLeases>(_ =>
        {
            var expired = _book.Expire(Now, l => $"lease expired after {_settings.LeaseTimeout} on {l.Worker.Path.Name}");
            if (expired.Count == 0) return;
            foreach (var r in expired)
                if (!r.Lease.Started && _workers.Contains(r.Lease.Worker)) // the worker may never get it: ask again
                    _demand[r.Lease.Worker] = _demand.GetValueOrDefault(r.Lease.Worker) + 1;
            if (Requeue(expired)) Dispatch();
        });
        WhileRunning(streaming: true);
    }

    /// <summary>Every shard is consumed: waits for the student's outcome and, with a cache, the keeper's confirmation.
    /// Late copies of shards (re-leased ones still running) and requests for work are dropped.</summary>
    private void Completing()
    {
        Receive<TrainingCompleted>(done =>
        {
            _trained = done.Outcome;
            TryFinishStage();
        });
        Receive<CacheFinished>(finished =>
        {
            _cacheFinished = finished;
            TryFinishStage();
        });
        WhileRunning(streaming: false);
        Receive<SourceReady>(CheckShardCount);
        ReceiveAny(_ => { });
    }

    /// <summary>What every state before the end handles: failures of components, the end of a child or of a member
    /// on a teacher node, and the teacher nodes' announcements. <paramref name="streaming"/>: a change hands out work.</summary>
    private void WhileRunning(bool streaming)
    {
        Receive<ComponentFailed>(failed => FailStage($"{failed.Component}: {failed.Error}", failed.Detail));
        Receive<Terminated>(t =>
        {
            var changed = RemoteMemberTerminated(t) ?? ChildTerminated(t.ActorRef);
            if (changed && streaming) Dispatch();
        });
        RemoteReceives(streaming);
    }

    private void AddDemand(RequestWork request)
    {
        if (!_workers.Contains(Sender))
        {
            EarlyDemand(Sender, request.Count);
            return;
        }
        _demand[Sender] = _demand.GetValueOrDefault(Sender) + Math.Max(0, request.Count);
    }

    /// <summary>Another loader (a teacher node's) reports its shard count: it must be the stage's.</summary>
    private void CheckShardCount(SourceReady ready)
    {
        if (ready.ShardCount != _book.Total)
            FailStage($"{Describe(Sender)} sees {ready.ShardCount} shards, but the stage has {_book.Total}: " +
                      "every node must run the same configuration and data");
    }

    private void Consumed(ShardConsumed consumed)
    {
        if (!_book.Consume(consumed.ShardId)) return;
        _samples += consumed.Samples;
        if (double.IsFinite(consumed.Loss)) _lastLoss = consumed.Loss; // held-out shards train nothing: keep the last loss
        if (_fromCache.Contains(consumed.ShardId)) _consumedFromCache++;
        Report(_lastLoss);
        Dispatch();
    }

    /// <summary>A cached part failed verification: it was not delivered; a teacher computes the shard instead
    /// (replay has none: the stage fails naming the part).</summary>
    private void CachedShardBad(CachedShardBad bad)
    {
        _fromCache.Remove(bad.ShardId);
        if (_cacheSpec!.Mode == CacheMode.Replay)
        {
            FailStage($"cache: {bad.Error}");
            return;
        }
        _log.Warning("Stage {0}: shard {1} goes to a teacher: {2}", _stage.Name, bad.ShardId, bad.Error);
        _book.CacheMiss(bad.ShardId);
        StartWorkers();
        Dispatch();
    }

    /// <summary>Hands out cache reads and leases while the window has room; once every shard is consumed, has the
    /// trainer complete the student and the cache keeper confirm the cache (once).</summary>
    private void Dispatch()
    {
        if (_book.AllConsumed)
        {
            _trainer.Tell(CompleteTraining.Instance);
            if (_cacheSpec is not null) _cacheKeeper.Tell(FinishCache.Instance);
            Become(Completing);
            return;
        }
        while (_book.CanReadCache)
        {
            var shard = _book.ReadFromCache();
            _fromCache.Add(shard);
            _cacheKeeper.Tell(new ReadCachedShard(shard));
        }
        TryLease();
    }

    /// <summary>Succeeds once the student completed and, with a cache, the cache keeper confirmed every part.</summary>
    private void TryFinishStage()
    {
        if (_trained is null || (_cacheSpec is not null && _cacheFinished is null)) return;
        var outcome = _trained;
        if (_cacheSpec is not null)
        {
            var figures = new Dictionary<string, double>(outcome.Figures)
            {
                ["shards_from_cache"] = _consumedFromCache,
                ["shards_from_teacher"] = _book.Consumed - _consumedFromCache,
                ["cache_parts_written"] = _cacheFinished!.PartsWritten,
                ["cache_parts_removed"] = _cacheFinished.PartsRemoved,
            };
            outcome = outcome with { Figures = figures };
        }
        _log.Info("Stage {0} completed: {1} shards issued, {2} re-issued, {3} consumed ({4} from the cache)",
            _stage.Name, _book.Issued, _book.Reissued, _book.Consumed, _consumedFromCache);
        Finish(new StageSucceeded(_stage.Name, outcome, Counts));
    }

    /// <summary>Grants leases while a shard waits, the credit window has room, and some worker asked.</summary>
    private void TryLease()
    {
        while (_book.CanLease && _loaders.Count > 0)
        {
            // Not the worker whose attempt at this shard expired or failed, while another one can take it.
            var avoid = _workers.Count > 1 ? _book.LastWorker(_book.NextToLease!.Value) : null;
            var worker = PickWorker(avoid);
            if (worker is null) return;
            var loader = PickLoader(worker)!;
            var lease = _book.Lease(worker, loader, Now + _settings.LeaseTimeout);
            _demand[worker]--;
            loader.Tell(new LoadShard(lease.ShardId, lease.Attempt, worker));
        }
    }

    /// <summary>The asking worker holding the fewest leases, other than <paramref name="avoid"/>.</summary>
    private IActorRef? PickWorker(IActorRef? avoid)
    {
        IActorRef? best = null;
        var bestLeases = int.MaxValue;
        foreach (var (worker, demand) in _demand)
        {
            if (demand <= 0 || worker.Equals(avoid) || PickLoader(worker, advance: false) is null) continue;
            var leases = _book.Leases.Count(l => l.Worker.Equals(worker));
            if (leases < bestLeases) (best, bestLeases) = (worker, leases);
        }
        return best;
    }

    /// <summary>Logs re-queued shards; fails the stage (and returns false) when one used up its attempts.</summary>
    private bool Requeue(IReadOnlyList<Requeued> requeued)
    {
        foreach (var r in requeued)
        {
            if (r.Exhausted)
            {
                FailStage($"shard {r.ShardId} failed after {_book.Attempts(r.ShardId)} attempts: {r.Reason}", r.Detail);
                return false;
            }
            _log.Warning("Stage {0}: shard {1} (attempt {2}) goes back to the queue: {3}",
                _stage.Name, r.ShardId, r.Lease.Attempt, r.Reason);
        }
        return true;
    }

    /// <summary>A child stopped: the trainer or the cache keeper fails the stage; a worker or loader has its leases
    /// taken back and is replaced. True when leases or actors changed (work may go out).</summary>
    private bool ChildTerminated(IActorRef child)
    {
        var error = _lastChildError is null ? "" : $" ({_lastChildError})";
        var detail = _lastChildDetail;
        _lastChildError = null;
        _lastChildDetail = null;
        if (child.Equals(_trainer))
        {
            FailStage($"the trainer stopped unexpectedly{error}", detail);
            return false;
        }
        if (child.Equals(_cacheKeeper))
        {
            FailStage($"the cache keeper stopped unexpectedly{error}", detail);
            return false;
        }
        Action spawn;
        string why;
        if (_workers.Contains(child)) (spawn, why) = (SpawnWorker, $"teacher worker {child.Path.Name} stopped{error}");
        else if (_loaders.Contains(child)) (spawn, why) = (SpawnLoader, $"loader {child.Path.Name} stopped{error}");
        else return false;
        return Revoke(child, why, detail) && (_book.AllConsumed || Respawn(spawn, why, detail)); // none is needed any more once all are consumed
    }

    /// <summary>The one way leases are taken back from a teacher worker or loader that is gone (a child that stopped,
    /// or a member on a teacher node that stopped or whose node left): a worker's leases all go back to the queue, a
    /// loader's only those whose inference had not started (their workers are asked for work again). False when a
    /// shard used up its attempts (the stage failed).</summary>
    private bool Revoke(IActorRef member, string why, ErrorDetail? detail = null)
    {
        IReadOnlyList<Requeued> revoked;
        if (_workers.Remove(member))
        {
            _demand.Remove(member);
            revoked = _book.Revoke(l => l.Worker.Equals(member), why, detail);
        }
        else if (_loaders.Remove(member))
        {
            revoked = _book.Revoke(l => l.Loader.Equals(member) && !l.Started, why, detail);
            foreach (var r in revoked)
                if (_workers.Contains(r.Lease.Worker))
                    _demand[r.Lease.Worker] = _demand.GetValueOrDefault(r.Lease.Worker) + 1;
        }
        else return true;
        if (revoked.Count > 0)
            _log.Warning("Stage {0}: {1}; {2} lease(s) go back to the queue", _stage.Name, why, revoked.Count);
        return Requeue(revoked);
    }

    private bool Respawn(Action spawn, string why, ErrorDetail? detail)
    {
        if (_respawnsLeft-- <= 0)
        {
            FailStage($"too many stage actors stopped; last: {why}", detail);
            return false;
        }
        _log.Warning("Stage {0}: {1}; starting a replacement", _stage.Name, why);
        spawn();
        return true;
    }

    /// <summary>Starts the teacher workers, once (each loads a teacher replica).</summary>
    private void StartWorkers()
    {
        if (_workersStarted || RemoteMode) return; // remote: the teacher nodes' workers are already asked for
        _workersStarted = true;
        for (var i = 0; i < _settings.TeacherWorkers; i++) SpawnWorker();
    }

    private void SpawnWorker()
    {
        var worker = Context.ActorOf(
            TeacherWorker.Props(_stage.CreateTeacher, Self, _trainer, _settings.TeacherPrefetch, _settings.MaxBatchBytes),
            $"teacher-{_workerSeq++}");
        Context.Watch(worker);
        _workers.Add(worker);
    }

    private void SpawnLoader()
    {
        var loader = Context.ActorOf(ShardLoader.Props(_source, Self), $"loader-{_loaderSeq++}");
        Context.Watch(loader);
        _loaders.Add(loader);
    }

    private void Report(double loss)
    {
        var seconds = _clock.Elapsed.TotalSeconds;
        try
        {
            _progress.Report(new StageProgress(_stage.Name, "distill", _book.Consumed, _book.Total,
                seconds > 0 ? _samples / seconds : 0, loss));
        }
        catch (Exception ex)
        {
            _log.Warning("Progress report failed: {0}", ex.Message);
        }
    }

    /// <summary>Fails the stage with a one-line <paramref name="error"/> and the exception behind it, when there was one.</summary>
    private void FailStage(string error, ErrorDetail? detail = null)
    {
        _log.Error("Stage {0} failed: {1}", _stage.Name, error);
        Finish(new StageFailed(_stage.Name, error, Counts, detail));
    }

    /// <summary>Reports the end of the stage once; afterwards the coordinator only waits to be stopped.</summary>
    private void Finish(object result)
    {
        Timers.CancelAll();
        Context.Parent.Tell(result);
        Become(Finished);
    }

    private void Finished() => ReceiveAny(_ => { });
}
