using System.Buffers.Binary;
using System.Runtime.Serialization;
using System.Text;
using Akka.Actor;

namespace Distill.Actors.Serialization;

/// <summary>Reads what <see cref="WireWriter"/> wrote. Whatever the bytes, a frame that is short, has a length or
/// count larger than the bytes left (checked before anything is allocated for it), a string that is not UTF-8, an
/// actor path Akka cannot read or bytes left over throws <see cref="SerializationException"/> naming the manifest,
/// the field, the offset and what was wrong; nothing else escapes.</summary>
internal ref struct WireReader(ReadOnlySpan<byte> bytes, string manifest, ExtendedActorSystem system)
{
    /// <summary>UTF-8 that refuses broken byte sequences instead of replacing them (the writer never makes one).</summary>
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>At most this much of a bad actor path is quoted in an error.</summary>
    private const int ShownPathChars = 200;

    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _at;

    private readonly int Left => _bytes.Length - _at;

    public int Int(string field) => BinaryPrimitives.ReadInt32LittleEndian(Take(field, 4));

    public double Double(string field) => BinaryPrimitives.ReadDoubleLittleEndian(Take(field, 8));

    /// <summary>A length (-1 for null) and that many bytes of UTF-8.</summary>
    public string? String(string field)
    {
        var at = _at;
        var n = Int(field);
        if (n == -1) return null;
        if (n < 0) throw Malformed($"{field}: string length {n} at offset {at}");
        var utf8 = Take(field, n);
        try
        {
            return StrictUtf8.GetString(utf8);
        }
        catch (DecoderFallbackException)
        {
            throw Malformed($"{field}: the {n} bytes of its string at offset {at + 4} are not UTF-8");
        }
    }

    public string Text(string field) => String(field) ?? throw Malformed($"{field}: null where a string is required");

    /// <summary>An actor path resolved by the ActorSystem (one it does not know resolves as Akka resolves it, to
    /// dead letters or a remote actor's reference).</summary>
    public IActorRef Ref(string field)
    {
        var at = _at;
        var path = Text(field);
        try
        {
            return system.Provider.ResolveActorRef(path);
        }
        catch (Exception e)
        {
            // Akka's path parser throws on some malformed paths (a FormatException for a uid that is not a number).
            var shown = path.Length <= ShownPathChars ? path : path[..ShownPathChars] + "...";
            throw Malformed($"{field}: the actor path at offset {at} cannot be resolved ({e.GetType().Name}: {e.Message}): '{shown}'", e);
        }
    }

    public IReadOnlyList<IActorRef> Refs(string field)
    {
        var n = Count(field, bytesEach: 4); // each path has at least its length
        var refs = new IActorRef[n];
        for (var i = 0; i < n; i++) refs[i] = Ref($"{field}[{i}]");
        return refs;
    }

    /// <summary>A count of items that take at least <paramref name="bytesEach"/> bytes each, refused when the bytes
    /// left cannot hold that many (so no count can make the reader allocate more than the frame's size).</summary>
    public int Count(string field, int bytesEach)
    {
        var at = _at;
        var n = Int(field);
        if (n < 0 || n > Left / bytesEach)
            throw Malformed($"{field}: count {n} at offset {at}, but the {Left} bytes left hold at most {Left / bytesEach}");
        return n;
    }

    /// <summary>The rest of the message: the raw payload.</summary>
    public byte[] Rest()
    {
        var rest = _bytes[_at..].ToArray();
        _at = _bytes.Length;
        return rest;
    }

    /// <summary>Every byte was read.</summary>
    public readonly void End()
    {
        if (Left != 0) throw Malformed($"{Left} bytes left over after the last field, at offset {_at}");
    }

    /// <summary>The error for a frame that is not a message of the manifest: says which, how long, and <paramref name="what"/>.</summary>
    public readonly SerializationException Malformed(string what, Exception? inner = null) =>
        new($"Cannot read a '{manifest}' message of {_bytes.Length} bytes: {what}", inner);

    private ReadOnlySpan<byte> Take(string field, int n)
    {
        if (n > Left) throw Malformed($"{field}: needs {n} bytes at offset {_at}, {Left} left");
        var span = _bytes.Slice(_at, n);
        _at += n;
        return span;
    }
}
