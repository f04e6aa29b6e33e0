using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Cache;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>Owns one stage's teacher-output cache directory (<see cref="StageCache"/>) on the compute dispatcher,
/// since it reads, hashes and writes files: the cache writer and the cache replay of DESIGN 7 in one actor,
/// because both change the same manifest. Opens (and verifies) the cache when asked, sends cached batches to the
/// trainer, writes the teacher batches the trainer forwards, and confirms at the end that every shard has a part.
/// Each part records the sha256 of the shard's input (loaded from the stage's source, as the teacher saw it) and
/// is delivered only for the same input, so a part is never used for shards that changed (a preference stage's
/// pairs mined from another student, other shard boundaries). A bad part is reported to the coordinator
/// (<see cref="CachedShardBad"/>), never delivered. Any other failure (a refused cache, a write error) is a
/// <see cref="ComponentFailed"/> of component "cache".</summary>
public sealed class CacheKeeper : ReceiveActor
{
    private readonly StageCacheSpec _spec;
    private readonly string _stage;
    private readonly IActorRef _coordinator;
    private readonly Lazy<IShardSource>? _source;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private StageCache? _cache;
    private IActorRef _trainer = ActorRefs.Nobody;
    private bool _failed;

    /// <param name="source">the stage's shard source (shared with the loaders), for the input checksums; null =
    /// parts are not tied to their input.</param>
    public static Props Props(StageCacheSpec spec, string stage, IActorRef coordinator, Lazy<IShardSource>? source = null) =>
        Akka.Actor.Props.Create(() => new CacheKeeper(spec, stage, coordinator, source))
            .WithDispatcher(DistillActorsConfig.ComputeDispatcher);

    public CacheKeeper(StageCacheSpec spec, string stage, IActorRef coordinator, Lazy<IShardSource>? source)
    {
        _spec = spec;
        _stage = stage;
        _coordinator = coordinator;
        _source = source;
        Receive<OpenCache>(Open);
        Receive<ReadCachedShard>(Read);
        Receive<WriteCachedShard>(Write);
        Receive<FinishCache>(_ => Finish());
    }

    private void Open(OpenCache open)
    {
        if (_cache is not null || _failed) return;
        _trainer = open.Trainer;
        try
        {
            _cache = StageCache.Open(_spec.Root, _stage, _spec.Key(), open.ShardCount, _spec.Mode);
        }
        catch (Exception ex)
        {
            Fail($"opening the teacher-output cache failed: {ErrorDetail.OneLine(ex)}", ex);
            return;
        }
        foreach (var repair in _cache.Repairs) _log.Warning("Stage {0} cache: {1}", _stage, repair);
        _coordinator.Tell(new CacheOpened(_cache.Directory, _spec.Mode.Reads() ? _cache.Available : [], _cache.Repairs,
            _cache.PartsRemoved));
    }

    private void Read(ReadCachedShard read)
    {
        if (_cache is null || _failed) return;
        byte[] bytes;
        try
        {
            bytes = _cache.Read(read.ShardId, InputSha256(read.ShardId));
        }
        catch (CachePartException ex)
        {
            _log.Warning("Stage {0}: {1}", _stage, ex.Message);
            _coordinator.Tell(new CachedShardBad(read.ShardId, ex.Message, ex.Removed));
            return;
        }
        catch (Exception ex)
        {
            _log.Warning("Stage {0}: reading the cache part of shard {1} failed: {2}", _stage, read.ShardId, ex.Message);
            _coordinator.Tell(new CachedShardBad(read.ShardId, $"reading the cache part of shard {read.ShardId} in {_cache.Directory} failed: {ex.Message}", false));
            return;
        }
        _trainer.Tell(new CachedBatch(read.ShardId, bytes));
    }

    private void Write(WriteCachedShard write)
    {
        if (_cache is null || _failed || !_spec.Mode.Writes()) return;
        try
        {
            _cache.Write(write.ShardId, write.Batch, InputSha256(write.ShardId));
        }
        catch (Exception ex)
        {
            Fail($"writing the cache part of shard {write.ShardId} failed: {ErrorDetail.OneLine(ex)}", ex);
        }
    }

    /// <summary>Every shard was consumed; the trainer forwarded each teacher batch before it was consumed, so its
    /// write is already done (same mailbox, earlier): the cache must now hold every shard.</summary>
    private void Finish()
    {
        if (_cache is null || _failed) return;
        if (!_cache.Complete)
        {
            var missing = Enumerable.Range(0, _cache.Manifest.ShardCount).Except(_cache.Available).Take(12);
            Fail($"cache {_cache.Directory} lacks parts for shard(s) {string.Join(", ", missing)} after every shard was consumed");
            return;
        }
        _coordinator.Tell(new CacheFinished(_cache.PartsRead, _cache.PartsWritten, _cache.PartsRemoved));
    }

    private string? InputSha256(int shard) => _source is null ? null : CachePartCheck.Sha256(_source.Value.LoadShard(shard));

    private void Fail(string error, Exception? ex = null)
    {
        _failed = true;
        _log.Error("Stage {0}: {1}", _stage, error);
        _coordinator.Tell(new ComponentFailed("cache", error, ex is null ? null : ErrorDetail.Of(ex)));
    }
}
