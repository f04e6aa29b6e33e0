using System.Buffers;
using System.Buffers.Binary;
using System.Text;
using Akka.Actor;

namespace Distill.Actors.Serialization;

/// <summary>Writes a message's small header fields (little-endian ints and doubles, UTF-8 strings with a length,
/// actor paths) and appends an optional payload raw, once, at the end: the payload's length is what remains.</summary>
internal sealed class WireWriter
{
    private readonly ArrayBufferWriter<byte> _head = new(64);

    public WireWriter Int(int value)
    {
        BinaryPrimitives.WriteInt32LittleEndian(_head.GetSpan(4), value);
        _head.Advance(4);
        return this;
    }

    public WireWriter Double(double value)
    {
        BinaryPrimitives.WriteDoubleLittleEndian(_head.GetSpan(8), value);
        _head.Advance(8);
        return this;
    }

    /// <summary>Length (-1 for null) then UTF-8 bytes.</summary>
    public WireWriter String(string? value)
    {
        if (value is null) return Int(-1);
        var n = Encoding.UTF8.GetByteCount(value);
        Int(n);
        Encoding.UTF8.GetBytes(value, _head.GetSpan(n));
        _head.Advance(n);
        return this;
    }

    /// <summary>The actor's path with the address other nodes reach it at.</summary>
    public WireWriter Ref(IActorRef actor) => String(Akka.Serialization.Serialization.SerializedActorPath(actor));

    public WireWriter Refs(IReadOnlyList<IActorRef> actors)
    {
        Int(actors.Count);
        foreach (var a in actors) Ref(a);
        return this;
    }

    /// <summary>The header followed by <paramref name="payload"/> copied as it is.</summary>
    public byte[] ToArray(byte[]? payload = null)
    {
        var head = _head.WrittenSpan;
        var result = GC.AllocateUninitializedArray<byte>(head.Length + (payload?.Length ?? 0));
        head.CopyTo(result);
        payload?.CopyTo(result.AsSpan(head.Length));
        return result;
    }
}
