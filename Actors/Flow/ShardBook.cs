using Akka.Actor;
using Distill.Actors.Messages;

namespace Distill.Actors.Flow;

/// <summary>A shard leased to a teacher worker: which attempt, who loads it, who infers it, and until when.</summary>
internal sealed class ShardLease(int shardId, int attempt, IActorRef worker, IActorRef loader, TimeSpan deadline)
{
    public int ShardId { get; } = shardId;
    public int Attempt { get; } = attempt;
    public IActorRef Worker { get; } = worker;
    public IActorRef Loader { get; } = loader;
    public TimeSpan Deadline { get; set; } = deadline;
    /// <summary>The worker began inference (so the loader is done with it).</summary>
    public bool Started { get; set; }
}

/// <summary>Why a shard went back to the queue, or that it has used up its attempts; <see cref="Detail"/> is the
/// exception behind the reason, when there was one.</summary>
internal readonly record struct Requeued(int ShardId, ShardLease Lease, bool Exhausted, string Reason, ErrorDetail? Detail = null);

/// <summary>The coordinator's book of shards: the queues (shards waiting for a teacher, and shards waiting to be
/// read from the cache), leases, shards delivered to the trainer but not yet consumed, attempts, and counts. Plain
/// state; the coordinator actor does the messaging. Queues hand out the lowest shard id first.
/// In flight = leased + delivered-unconsumed (cache reads count as delivered); a lease or cache read is granted only
/// while in flight &lt; credit window. With strict ordering the trainer consumes shards in id order, holding back
/// later ones, so the lowest unconsumed shard may always go out even when the window is full: otherwise cached
/// shards read ahead of it would fill the window, held back, waiting forever for it (at most window + 1 in flight).</summary>
internal sealed class ShardBook
{
    private readonly int _creditWindow;
    private readonly int _maxAttempts;
    private readonly bool _strictOrder;
    private readonly SortedSet<int> _queue = new();
    private readonly SortedSet<int> _cacheQueue = new();
    private readonly Dictionary<int, ShardLease> _leases = new();
    private readonly HashSet<int> _delivered = new();
    private readonly Dictionary<int, IActorRef> _lastWorker = new();
    private bool[] _consumed = [];
    private int[] _attempts = [];
    private int _lowestUnconsumed;

    public ShardBook(int creditWindow, int maxAttempts, bool strictOrder = false)
    {
        _creditWindow = creditWindow;
        _maxAttempts = maxAttempts;
        _strictOrder = strictOrder;
    }

    public bool Initialized { get; private set; }
    public int Total { get; private set; }
    public int Issued { get; private set; }
    public int Reissued { get; private set; }
    public int Consumed { get; private set; }
    public int InFlight => _leases.Count + _delivered.Count;
    public bool AllConsumed => Initialized && Consumed == Total;
    public IEnumerable<ShardLease> Leases => _leases.Values;

    public void Initialize(int shardCount)
    {
        if (Initialized) return;
        if (shardCount < 0) throw new ArgumentOutOfRangeException(nameof(shardCount), shardCount, "negative shard count");
        Initialized = true;
        Total = shardCount;
        _consumed = new bool[shardCount];
        _attempts = new int[shardCount];
        for (var i = 0; i < shardCount; i++) _queue.Add(i);
    }

    /// <summary>Shards waiting for a teacher (not leased, not cached).</summary>
    public int WaitingForTeacher => _queue.Count;

    /// <summary>The shard the next lease would take (lowest id waiting for a teacher), or null.</summary>
    public int? NextToLease => _queue.Count > 0 ? _queue.Min : null;

    /// <summary>The worker whose attempt at <paramref name="shard"/> last failed or expired, or null: a stalled or
    /// broken worker should not get the same shard again while another can take it.</summary>
    public IActorRef? LastWorker(int shard) => _lastWorker.GetValueOrDefault(shard);

    /// <summary>True when a shard waits for a teacher and the credit window has room.</summary>
    public bool CanLease => Initialized && _queue.Count > 0 && HasRoomFor(_queue.Min);

    /// <summary>These shards have verified cache parts: they are read from the cache instead of leased.</summary>
    public void MarkCached(IEnumerable<int> shards)
    {
        foreach (var shard in shards)
            if (_queue.Remove(shard)) _cacheQueue.Add(shard);
    }

    /// <summary>True when a cached shard waits and the credit window has room.</summary>
    public bool CanReadCache => Initialized && _cacheQueue.Count > 0 && HasRoomFor(_cacheQueue.Min);

    /// <summary>Takes the next cached shard; it is in flight (delivered) until consumed or <see cref="CacheMiss"/>.</summary>
    public int ReadFromCache()
    {
        if (!CanReadCache) throw new InvalidOperationException("no cached shard can be read now");
        var shard = _cacheQueue.Min;
        _cacheQueue.Remove(shard);
        _delivered.Add(shard);
        return shard;
    }

    /// <summary>The shard's cache part turned out bad: it waits for a teacher instead.</summary>
    public void CacheMiss(int shard)
    {
        if (!_delivered.Remove(shard) || IsConsumed(shard)) return;
        _queue.Add(shard);
    }

    private bool HasRoomFor(int shard) => InFlight < _creditWindow || (_strictOrder && shard == _lowestUnconsumed);

    /// <summary>Leases the next shard to <paramref name="worker"/>; call only when <see cref="CanLease"/>.</summary>
    public ShardLease Lease(IActorRef worker, IActorRef loader, TimeSpan deadline)
    {
        if (!CanLease) throw new InvalidOperationException("no shard can be leased now");
        var shard = _queue.Min;
        _queue.Remove(shard);
        var attempt = ++_attempts[shard];
        Issued++;
        if (attempt > 1) Reissued++;
        var lease = new ShardLease(shard, attempt, worker, loader, deadline);
        _leases[shard] = lease;
        return lease;
    }

    /// <summary>The current lease of <paramref name="shard"/> if it is attempt <paramref name="attempt"/>.</summary>
    public ShardLease? CurrentLease(int shard, int attempt) =>
        _leases.TryGetValue(shard, out var lease) && lease.Attempt == attempt ? lease : null;

    /// <summary>Inference of the lease began: its clock restarts.</summary>
    public void Start(int shard, int attempt, TimeSpan deadline)
    {
        if (CurrentLease(shard, attempt) is not { } lease) return;
        lease.Started = true;
        lease.Deadline = deadline;
    }

    /// <summary>The lease's teacher batch went to the trainer: the shard stays in flight until consumed.</summary>
    public void Deliver(int shard, int attempt)
    {
        if (CurrentLease(shard, attempt) is null || IsConsumed(shard)) return;
        _leases.Remove(shard);
        _delivered.Add(shard);
    }

    /// <summary>The attempt failed: the shard goes back to the queue unless its attempts are used up.
    /// Null when the attempt is stale (the shard was re-leased or consumed meanwhile).</summary>
    public Requeued? Fail(int shard, int attempt, string reason, ErrorDetail? detail = null)
    {
        if (CurrentLease(shard, attempt) is not { } lease) return null;
        return Requeue(lease, reason, detail);
    }

    /// <summary>Takes back every lease whose deadline passed.</summary>
    public IReadOnlyList<Requeued> Expire(TimeSpan now, Func<ShardLease, string> reason)
    {
        var expired = _leases.Values.Where(l => l.Deadline <= now).ToList();
        return expired.Select(l => Requeue(l, reason(l))).ToList();
    }

    /// <summary>Takes back the leases that match (a dead worker's, or a dead loader's not yet started ones).</summary>
    public IReadOnlyList<Requeued> Revoke(Func<ShardLease, bool> match, string reason, ErrorDetail? detail = null)
    {
        var revoked = _leases.Values.Where(match).ToList();
        return revoked.Select(l => Requeue(l, reason, detail)).ToList();
    }

    /// <summary>Records that the trainer consumed <paramref name="shard"/>. False when it already was (or the id is
    /// unknown); true frees its credit.</summary>
    public bool Consume(int shard)
    {
        if (!Initialized || shard < 0 || shard >= Total || _consumed[shard]) return false;
        _consumed[shard] = true;
        Consumed++;
        _delivered.Remove(shard);
        _leases.Remove(shard); // a re-leased copy still running elsewhere is no longer needed
        _queue.Remove(shard);  // a re-queued shard whose first copy arrived after all
        _cacheQueue.Remove(shard);
        while (_lowestUnconsumed < Total && _consumed[_lowestUnconsumed]) _lowestUnconsumed++;
        return true;
    }

    public bool IsConsumed(int shard) => shard >= 0 && shard < Total && _consumed[shard];

    public int Attempts(int shard) => _attempts[shard];

    private Requeued Requeue(ShardLease lease, string reason, ErrorDetail? detail = null)
    {
        _leases.Remove(lease.ShardId);
        _lastWorker[lease.ShardId] = lease.Worker;
        var exhausted = _attempts[lease.ShardId] >= _maxAttempts;
        if (!exhausted) _queue.Add(lease.ShardId);
        return new Requeued(lease.ShardId, lease, exhausted, reason, detail);
    }
}
