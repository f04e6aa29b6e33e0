using Akka.Actor;

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

/// <summary>Why a shard went back to the queue, or that it has used up its attempts.</summary>
internal readonly record struct Requeued(int ShardId, ShardLease Lease, bool Exhausted, string Reason);

/// <summary>The coordinator's book of shards: the queue, leases, shards delivered to the trainer but not yet
/// consumed, attempts, and counts. Plain state; the coordinator actor does the messaging.
/// In flight = leased + delivered-unconsumed; a lease is granted only while in flight &lt; credit window.</summary>
internal sealed class ShardBook
{
    private readonly int _creditWindow;
    private readonly int _maxAttempts;
    private readonly LinkedList<int> _queue = new();
    private readonly Dictionary<int, ShardLease> _leases = new();
    private readonly HashSet<int> _delivered = new();
    private bool[] _consumed = [];
    private int[] _attempts = [];

    public ShardBook(int creditWindow, int maxAttempts)
    {
        _creditWindow = creditWindow;
        _maxAttempts = maxAttempts;
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
        for (var i = 0; i < shardCount; i++) _queue.AddLast(i);
    }

    /// <summary>True when a shard is waiting and the credit window has room.</summary>
    public bool CanLease
    {
        get
        {
            DropConsumedHead();
            return Initialized && _queue.Count > 0 && InFlight < _creditWindow;
        }
    }

    /// <summary>Leases the next shard to <paramref name="worker"/>; call only when <see cref="CanLease"/>.</summary>
    public ShardLease Lease(IActorRef worker, IActorRef loader, TimeSpan deadline)
    {
        if (!CanLease) throw new InvalidOperationException("no shard can be leased now");
        var shard = _queue.First!.Value;
        _queue.RemoveFirst();
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

    /// <summary>The attempt failed: the shard goes back to the front of the queue unless its attempts are used up.
    /// Null when the attempt is stale (the shard was re-leased or consumed meanwhile).</summary>
    public Requeued? Fail(int shard, int attempt, string reason)
    {
        if (CurrentLease(shard, attempt) is not { } lease) return null;
        return Requeue(lease, reason);
    }

    /// <summary>Takes back every lease whose deadline passed.</summary>
    public IReadOnlyList<Requeued> Expire(TimeSpan now, Func<ShardLease, string> reason)
    {
        var expired = _leases.Values.Where(l => l.Deadline <= now).ToList();
        return expired.Select(l => Requeue(l, reason(l))).ToList();
    }

    /// <summary>Takes back the leases that match (a dead worker's, or a dead loader's not yet started ones).</summary>
    public IReadOnlyList<Requeued> Revoke(Func<ShardLease, bool> match, string reason)
    {
        var revoked = _leases.Values.Where(match).ToList();
        return revoked.Select(l => Requeue(l, reason)).ToList();
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
        return true;
    }

    public bool IsConsumed(int shard) => shard >= 0 && shard < Total && _consumed[shard];

    public int Attempts(int shard) => _attempts[shard];

    private Requeued Requeue(ShardLease lease, string reason)
    {
        _leases.Remove(lease.ShardId);
        var exhausted = _attempts[lease.ShardId] >= _maxAttempts;
        if (!exhausted) _queue.AddFirst(lease.ShardId);
        return new Requeued(lease.ShardId, lease, exhausted, reason);
    }

    private void DropConsumedHead()
    {
        while (_queue.First is { } first && _consumed[first.Value]) _queue.RemoveFirst();
    }
}
