using Akka.Actor;
using Akka.Event;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Flow;

/// <summary>Reads shards from the stage's source (on the compute dispatcher) and sends each to the teacher worker
/// it is leased to, so the worker's next shard is loading while it infers the current one.</summary>
public sealed class ShardLoader : ReceiveActor
{
    private readonly Lazy<IShardSource> _source;
    private readonly IActorRef _coordinator;
    private readonly ILoggingAdapter _log = Context.GetLogger();

    /// <param name="source">The stage's shard source, shared by all loaders and opened by the first that needs it
    /// (thread-safe lazy).</param>
    /// <param name="coordinator">Receives <see cref="SourceReady"/> or <see cref="ComponentFailed"/>.</param>
    public static Props Props(Lazy<IShardSource> source, IActorRef coordinator) =>
        Akka.Actor.Props.Create(() => new ShardLoader(source, coordinator))
            .WithDispatcher(DistillActorsConfig.ComputeDispatcher);

    public ShardLoader(Lazy<IShardSource> source, IActorRef coordinator)
    {
        _source = source;
        _coordinator = coordinator;
        Receive<LoadShard>(Load);
    }

    protected override void PreStart()
    {
        try
        {
            _coordinator.Tell(new SourceReady(_source.Value.ShardCount));
        }
        catch (Exception ex)
        {
            _log.Error(ex, "Opening the shard source failed");
            _coordinator.Tell(new ComponentFailed("shard source", ErrorDetail.OneLine(ex), ErrorDetail.Of(ex)));
        }
    }

    private void Load(LoadShard load)
    {
        try
        {
            var bytes = _source.Value.LoadShard(load.ShardId);
            load.Worker.Tell(new ShardLoaded(load.ShardId, load.Attempt, bytes));
        }
        catch (Exception ex)
        {
            _log.Warning("Loading shard {0} (attempt {1}) failed: {2}", load.ShardId, load.Attempt, ex.Message);
            load.Worker.Tell(new ShardLoadFailed(load.ShardId, load.Attempt, $"loading shard {load.ShardId} failed: {ErrorDetail.OneLine(ex)}",
                ErrorDetail.Of(ex)));
        }
    }
}
