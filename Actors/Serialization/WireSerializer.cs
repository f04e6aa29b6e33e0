using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Serialization;

/// <summary>Serializer of every <see cref="IWireMessage"/> (the flow and cluster protocols): one manifest per message
/// type (its name), header fields in a compact binary form (<see cref="WireWriter"/>), and Arrow payloads
/// (<c>samples/v1</c>, <c>teacher/v1</c>, ...) appended raw at the end, so a batch costs its own bytes plus a few
/// header bytes on the wire: never JSON, never base64. Bound in <see cref="DistillActorsConfig"/>.</summary>
public sealed class WireSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    /// <summary>Serializer id (unique among the ActorSystem's serializers; Akka keeps 0-100 for itself).</summary>
    public const int Id = 4310;

    public override int Identifier => Id;

    public override string Manifest(object o) => o switch
    {
        IWireMessage => o.GetType().Name,
        _ => throw Unknown(o.GetType()),
    };

    public override byte[] ToBinary(object obj)
    {
        var w = new WireWriter();
        switch (obj)
        {
            // Flow protocol
            case SourceReady m: return w.Int(m.ShardCount).ToArray();
            case RequestWork m: return w.Int(m.Count).ToArray();
            case LoadShard m: return w.Int(m.ShardId).Int(m.Attempt).Ref(m.Worker).ToArray();
            case ShardLoaded m: return w.Int(m.ShardId).Int(m.Attempt).ToArray(m.SamplesV1);
            case ShardLoadFailed m: return Detail(w.Int(m.ShardId).Int(m.Attempt).String(m.Error), m.Detail).ToArray();
            case ShardStarted m: return w.Int(m.ShardId).Int(m.Attempt).ToArray();
            case TeacherBatch m: return w.Int(m.ShardId).Int(m.Attempt).ToArray(m.TeacherV1);
            case TeacherBatchPart m: return w.Int(m.ShardId).Int(m.Attempt).Int(m.Part).Int(m.Parts).ToArray(m.Bytes);
            case ShardInferred m: return w.Int(m.ShardId).Int(m.Attempt).ToArray();
            case ShardFailed m: return Detail(w.Int(m.ShardId).Int(m.Attempt).String(m.Error), m.Detail).ToArray();
            case ShardConsumed m: return w.Int(m.ShardId).Int(m.Samples).Double(m.Loss).ToArray();
            case CompleteTraining: return [];
            case TrainingCompleted m: return Outcome(w, m.Outcome).ToArray();
            case ComponentFailed m: return Detail(w.String(m.Component).String(m.Error), m.Detail).ToArray();
            case CheckLeases: return [];
            // Cluster protocol
            case RegisterTeacherNode m: return w.Ref(m.Node).ToArray();
            case TeacherNodeRegistered m: return w.String(m.RunDir).ToArray();
            case SubscribeTeacherNodes m: return w.Ref(m.Subscriber).ToArray();
            case TeacherNodeAvailable m: return w.Ref(m.Node).ToArray();
            case OpenStage m: return w.String(m.Stage).Ref(m.Coordinator).Ref(m.Trainer).ToArray();
            case StageMembers m: return w.Refs(m.Workers).Refs(m.Loaders).ToArray();
            default: throw Unknown(obj.GetType());
        }
    }

    public override object FromBinary(byte[] bytes, string manifest)
    {
        var r = new WireReader(bytes, manifest, system);
        object message = manifest switch
        {
            nameof(SourceReady) => new SourceReady(r.Int()),
            nameof(RequestWork) => new RequestWork(r.Int()),
            nameof(LoadShard) => new LoadShard(r.Int(), r.Int(), r.Ref()),
            nameof(ShardLoaded) => new ShardLoaded(r.Int(), r.Int(), r.Rest()),
            nameof(ShardLoadFailed) => new ShardLoadFailed(r.Int(), r.Int(), r.Text(), Detail(ref r)),
            nameof(ShardStarted) => new ShardStarted(r.Int(), r.Int()),
            nameof(TeacherBatch) => new TeacherBatch(r.Int(), r.Int(), r.Rest()),
            nameof(TeacherBatchPart) => new TeacherBatchPart(r.Int(), r.Int(), r.Int(), r.Int(), r.Rest()),
            nameof(ShardInferred) => new ShardInferred(r.Int(), r.Int()),
            nameof(ShardFailed) => new ShardFailed(r.Int(), r.Int(), r.Text(), Detail(ref r)),
            nameof(ShardConsumed) => new ShardConsumed(r.Int(), r.Int(), r.Double()),
            nameof(CompleteTraining) => CompleteTraining.Instance,
            nameof(TrainingCompleted) => new TrainingCompleted(Outcome(ref r)),
            nameof(ComponentFailed) => new ComponentFailed(r.Text(), r.Text(), Detail(ref r)),
            nameof(CheckLeases) => CheckLeases.Instance,
            nameof(RegisterTeacherNode) => new RegisterTeacherNode(r.Ref()),
            nameof(TeacherNodeRegistered) => new TeacherNodeRegistered(r.Text()),
            nameof(SubscribeTeacherNodes) => new SubscribeTeacherNodes(r.Ref()),
            nameof(TeacherNodeAvailable) => new TeacherNodeAvailable(r.Ref()),
            nameof(OpenStage) => new OpenStage(r.Text(), r.Ref(), r.Ref()),
            nameof(StageMembers) => new StageMembers(r.Refs(), r.Refs()),
            _ => throw new SerializationException(
                $"{nameof(WireSerializer)} does not know the manifest '{manifest}' ({bytes.Length} bytes); " +
                "the nodes may run different versions of distill"),
        };
        r.End();
        return message;
    }

    /// <summary>Checkpoint (or null), then the figures as (name, value) pairs.</summary>
    private static WireWriter Outcome(WireWriter w, StageOutcome outcome)
    {
        w.String(outcome.Checkpoint).Int(outcome.Figures.Count);
        foreach (var (name, value) in outcome.Figures) w.String(name).Double(value);
        return w;
    }

    private static StageOutcome Outcome(ref WireReader r)
    {
        var checkpoint = r.String();
        var count = r.Int();
        if (count < 0) throw new SerializationException($"Cannot read a stage outcome with {count} figures");
        var figures = new Dictionary<string, double>(count);
        for (var i = 0; i < count; i++) figures[r.Text()] = r.Double();
        return new StageOutcome(checkpoint, figures);
    }

    /// <summary>The exception behind a failure: its type (null = none, and then nothing follows) and its full text.</summary>
    private static WireWriter Detail(WireWriter w, ErrorDetail? detail) =>
        detail is null ? w.String(null) : w.String(detail.Type).String(detail.Text);

    private static ErrorDetail? Detail(ref WireReader r)
    {
        var type = r.String();
        return type is null ? null : new ErrorDetail(type, r.Text());
    }

    private static ArgumentException Unknown(Type type) =>
        new($"{nameof(WireSerializer)} cannot serialize {type.FullName}: add it to the serializer with a manifest of its own");
}
