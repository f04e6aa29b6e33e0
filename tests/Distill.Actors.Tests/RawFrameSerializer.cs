using Akka.Actor;
using Akka.Serialization;
using Distill.Actors.Serialization;

namespace Distill.Actors.Tests;

/// <summary>Writes a <see cref="RawFrame"/>'s bytes and manifest under <see cref="WireSerializer.Id"/>, so the node
/// receiving them decodes them with its <see cref="WireSerializer"/>. Only for a test node that has no wire
/// serializer of its own (the ids would clash).</summary>
public sealed class RawFrameSerializer(ExtendedActorSystem system) : SerializerWithStringManifest(system)
{
    public override int Identifier => WireSerializer.Id;

    public override string Manifest(object o) => ((RawFrame)o).Manifest;

    public override byte[] ToBinary(object obj) => ((RawFrame)obj).Bytes;

    public override object FromBinary(byte[] bytes, string manifest) => new RawFrame(manifest, bytes);
}
