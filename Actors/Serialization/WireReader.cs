using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;

namespace Distill.Actors.Serialization;

/// <summary>Reads what <see cref="WireWriter"/> wrote; a short or malformed message throws
/// <see cref="SerializationException"/> naming the manifest.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> bytes, string manifest, ExtendedActorSystem system)
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _at;

    public int Int()
    {
        var v = BinaryPrimitives.ReadInt32LittleEndian(Take(4));
        return v;
    }

    public double Double() => BinaryPrimitives.ReadDoubleLittleEndian(Take(8));

    public string? String()
    {
        var n = Int();
        if (n == -1) return null;
        if (n < 0) throw Bad($"negative string length {n}");
        return Encoding.UTF8.GetString(Take(n));
    }

    public string Text() => String() ?? throw Bad("a required string is null");

    public IActorRef Ref() => system.Provider.ResolveActorRef(Text());

    public IReadOnlyList<IActorRef> Refs()
    {
        var n = Int();
        if (n < 0 || n > _bytes.Length - _at) throw Bad($"bad actor count {n}");
        var refs = new IActorRef[n];
        for (var i = 0; i < n; i++) refs[i] = Ref();
        return refs;
    }

    /// <summary>The rest of the message: the raw payload.</summary>
    public byte[] Rest()
    {
        var rest = _bytes[_at..].ToArray();
        _at = _bytes.Length;
        return rest;
    }

    /// <summary>Every byte was read.</summary>
    public void End()
    {
        if (_at != _bytes.Length) throw Bad($"{_bytes.Length - _at} bytes left over");
    }

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > _bytes.Length - _at) throw Bad($"needs {n} more bytes at offset {_at}, has {_bytes.Length - _at}");
        var span = _bytes.Slice(_at, n);
        _at += n;
        return span;
    }

    private readonly SerializationException Bad(string what) =>
        new($"Cannot read a '{manifest}' message of {_bytes.Length} bytes: {what}");
}
