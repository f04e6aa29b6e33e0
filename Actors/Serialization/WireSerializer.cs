using System.Runtime.Serialization;
using Akka.Actor;
using Akka.Serialization;
using Distill.Actors.Messages;
using Distill.Stages.Flow;

namespace Distill.Actors.Serialization;

/// <summary>Serializer of every <see cref="IWireMessage"/> (the flow and cluster protocols): one manifest per message
/// type (its name), header fields in a compact binary form (<see cref="WireWriter"/>), and Arrow payloads
/// (<c>samples/v1</c>, <c>teacher/v2</c>, ...) appended raw at the end, so a batch costs its own bytes plus a few
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
            case TeacherBatch m: return w.Int(m.ShardId).Int(m.Attempt).ToArray(m.Outputs);
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

    /// <summary>The message <paramref name="bytes"/> hold. A frame that is not a message of
    /// <paramref name="manifest"/> (cut short, a length larger than what is left, bytes left over, broken UTF-8, an
    /// unknown manifest) throws <see cref="SerializationException"/> and nothing else: Akka.Remote logs that and
    /// drops the message, keeping the association.</summary>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        var r = new WireReader(bytes, manifest, system);
        object message = manifest switch
        {
            nameof(SourceReady) => new SourceReady(r.Int(nameof(SourceReady.ShardCount))),
            nameof(RequestWork) => new RequestWork(r.Int(nameof(RequestWork.Count))),
            nameof(LoadShard) => new LoadShard(ShardId(ref r), Attempt(ref r), r.Ref(nameof(LoadShard.Worker))),
            nameof(ShardLoaded) => new ShardLoaded(ShardId(ref r), Attempt(ref r), r.Rest()),
            nameof(ShardLoadFailed) => new ShardLoadFailed(ShardId(ref r), Attempt(ref r), Error(ref r), Detail(ref r)),
            nameof(ShardStarted) => new ShardStarted(ShardId(ref r), Attempt(ref r)),
            nameof(TeacherBatch) => new TeacherBatch(ShardId(ref r), Attempt(ref r), r.Rest()),
            nameof(TeacherBatchPart) => new TeacherBatchPart(ShardId(ref r), Attempt(ref r),
                r.Int(nameof(TeacherBatchPart.Part)), r.Int(nameof(TeacherBatchPart.Parts)), r.Rest()),
            nameof(ShardInferred) => new ShardInferred(ShardId(ref r), Attempt(ref r)),
            nameof(ShardFailed) => new ShardFailed(ShardId(ref r), Attempt(ref r), Error(ref r), Detail(ref r)),
            nameof(ShardConsumed) => new ShardConsumed(ShardId(ref r), r.Int(nameof(ShardConsumed.Samples)),
                r.Double(nameof(ShardConsumed.Loss))),
            nameof(CompleteTraining) => CompleteTraining.Instance,
            nameof(TrainingCompleted) => new TrainingCompleted(Outcome(ref r)),
            nameof(ComponentFailed) => new ComponentFailed(r.Text(nameof(ComponentFailed.Component)), Error(ref r), Detail(ref r)),
            nameof(CheckLeases) => CheckLeases.Instance,
            nameof(RegisterTeacherNode) => new RegisterTeacherNode(r.Ref(nameof(RegisterTeacherNode.Node))),
            nameof(TeacherNodeRegistered) => new TeacherNodeRegistered(r.Text(nameof(TeacherNodeRegistered.RunDir))),
            nameof(SubscribeTeacherNodes) => new SubscribeTeacherNodes(r.Ref(nameof(SubscribeTeacherNodes.Subscriber))),
            nameof(TeacherNodeAvailable) => new TeacherNodeAvailable(r.Ref(nameof(TeacherNodeAvailable.Node))),
            nameof(OpenStage) => new OpenStage(r.Text(nameof(OpenStage.Stage)), r.Ref(nameof(OpenStage.Coordinator)),
                r.Ref(nameof(OpenStage.Trainer))),
            nameof(StageMembers) => new StageMembers(r.Refs(nameof(StageMembers.Workers)), r.Refs(nameof(StageMembers.Loaders))),
            _ => throw new SerializationException(
                $"{nameof(WireSerializer)} does not know the manifest '{manifest}' ({bytes.Length} bytes); " +
                "the nodes may run different versions of distill"),
        };
        r.End();
        return message;
    }

    private static int ShardId(ref WireReader r) => r.Int(nameof(ShardStarted.ShardId));

    private static int Attempt(ref WireReader r) => r.Int(nameof(ShardStarted.Attempt));

    private static string Error(ref WireReader r) => r.Text(nameof(ShardFailed.Error));

    /// <summary>Checkpoint (or null), then the figures as (name, value) pairs.</summary>
    private static WireWriter Outcome(WireWriter w, StageOutcome outcome)
    {
        w.String(outcome.Checkpoint).Int(outcome.Figures.Count);
        foreach (var (name, value) in outcome.Figures) w.String(name).Double(value);
        return w;
    }

    private static StageOutcome Outcome(ref WireReader r)
    {
        var checkpoint = r.String(nameof(StageOutcome.Checkpoint));
        var count = r.Count(nameof(StageOutcome.Figures), bytesEach: 4 + 8); // a name's length and a value at least
        var figures = new Dictionary<string, double>(count);
        for (var i = 0; i < count; i++)
        {
            var name = r.Text($"{nameof(StageOutcome.Figures)}[{i}] name");
            var value = r.Double($"{nameof(StageOutcome.Figures)}[{i}] value");
            if (!figures.TryAdd(name, value)) throw r.Malformed($"{nameof(StageOutcome.Figures)}[{i}]: the figure '{name}' comes twice");
        }
        return new StageOutcome(checkpoint, figures);
    }

    /// <summary>The exception behind a failure: its type (null = none, and then nothing follows) and its full text.</summary>
    private static WireWriter Detail(WireWriter w, ErrorDetail? detail) =>
        detail is null ? w.String(null) : w.String(detail.Type).String(detail.Text);

    private static ErrorDetail? Detail(ref WireReader r)
    {
        var type = r.String($"{nameof(ShardFailed.Detail)}.{nameof(ErrorDetail.Type)}");
        return type is null ? null : new ErrorDetail(type, r.Text($"{nameof(ShardFailed.Detail)}.{nameof(ErrorDetail.Text)}"));
    }

    private static ArgumentException Unknown(Type type) =>
        new($"{nameof(WireSerializer)} cannot serialize {type.FullName}: add it to the serializer with a manifest of its own");
}
