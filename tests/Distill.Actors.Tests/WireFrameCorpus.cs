using System.Buffers.Binary;
using System.Text;

namespace Distill.Actors.Tests;

/// <summary>A deterministic corpus of broken frames for the wire serializer, made from valid ones with a seeded
/// <see cref="Random"/>: every truncation, an absurd value in every 4-byte slot (where the length prefixes and counts
/// are), random byte changes, trailing garbage, random bytes and random field sequences under every manifest, and
/// manifests no message has.</summary>
public static class WireFrameCorpus
{
    /// <summary>One frame to decode: the bytes under <paramref name="Manifest"/> and how the frame was made.</summary>
    public sealed record Frame(string? Manifest, byte[] Bytes, string How);

    /// <summary>Manifests the serializer must refuse: near misses of real ones, other protocols' names, none.</summary>
    public static readonly string?[] UnknownManifests =
    [
        null, "", " ", "Gossip", "shardstarted", "SHARDSTARTED", "ShardStarted ", " ShardStarted", "ShardStarted\0",
        "Distill.Actors.Messages.ShardStarted", "IWireMessage", "RunPipeline", "ConsumeShard", "TeacherBatchPart2",
        "Shard\u00e9Started", new string('x', 4096),
    ];

    /// <summary>The corpus made from <paramref name="valid"/> (manifest and the bytes of a real message of it).</summary>
    public static IReadOnlyList<Frame> Make(IReadOnlyList<(string Manifest, byte[] Bytes)> valid, int seed)
    {
        var rng = new Random(seed);
        var frames = new List<Frame>();
        foreach (var (manifest, bytes) in valid)
        {
            for (var n = 0; n < bytes.Length; n++)
                frames.Add(new Frame(manifest, bytes[..n], $"{manifest} cut to {n} of {bytes.Length} bytes"));

            for (var at = 0; at + 4 <= bytes.Length; at++)
            {
                var left = bytes.Length - at - 4;
                foreach (var value in new[] { int.MaxValue, int.MinValue, -1, -2, left + 1, 1 << 30 })
                {
                    var copy = (byte[])bytes.Clone();
                    BinaryPrimitives.WriteInt32LittleEndian(copy.AsSpan(at), value);
                    frames.Add(new Frame(manifest, copy, $"{manifest} with {value} at offset {at}"));
                }
            }

            for (var i = 0; i < 60 && bytes.Length > 0; i++)
            {
                var copy = (byte[])bytes.Clone();
                var changes = rng.Next(1, 5);
                for (var c = 0; c < changes; c++) copy[rng.Next(copy.Length)] = (byte)rng.Next(256);
                frames.Add(new Frame(manifest, copy, $"{manifest} with {changes} random bytes changed (mutant {i})"));
            }

            for (var extra = 1; extra <= 5; extra++)
                frames.Add(new Frame(manifest, [.. bytes, .. RandomBytes(rng, extra)], $"{manifest} with {extra} bytes of trailing garbage"));

            for (var i = 0; i < 30; i++)
                frames.Add(new Frame(manifest, RandomBytes(rng, rng.Next(0, 97)), $"random bytes under {manifest} ({i})"));

            for (var i = 0; i < 30; i++)
                frames.Add(new Frame(manifest, RandomFields(rng), $"random fields under {manifest} ({i})"));
        }

        foreach (var manifest in UnknownManifests)
        {
            var shown = manifest is null ? "no manifest" : $"manifest '{manifest[..Math.Min(manifest.Length, 20)]}'";
            frames.Add(new Frame(manifest, [], $"{shown}, empty"));
            foreach (var (_, bytes) in valid)
                frames.Add(new Frame(manifest, bytes, $"{shown}, a valid frame of another manifest"));
        }
        return frames;
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var bytes = new byte[n];
        rng.NextBytes(bytes);
        return bytes;
    }

    /// <summary>A run of plausible fields: small ints and counts, null strings, strings of valid and of broken UTF-8,
    /// actor paths and non-paths, doubles.</summary>
    private static byte[] RandomFields(Random rng)
    {
        var bytes = new List<byte>();
        var slot = new byte[8];
        void Int(int v) { BinaryPrimitives.WriteInt32LittleEndian(slot, v); bytes.AddRange(slot[..4]); }
        void Text(byte[] utf8) { Int(utf8.Length); bytes.AddRange(utf8); }
        var fields = rng.Next(0, 8);
        for (var f = 0; f < fields; f++)
        {
            switch (rng.Next(8))
            {
                case 0: Int(rng.Next(0, 5)); break;
                case 1: Int(-1); break;
                case 2: Text(Encoding.UTF8.GetBytes("akka://test/user/x" + rng.Next(100))); break;
                case 3: Text(Encoding.UTF8.GetBytes(rng.Next(3) switch { 0 => "", 1 => "not a path", _ => "akka://" })); break;
                case 4: Text(RandomBytes(rng, rng.Next(0, 12))); break;
                case 5: Text([0xC3, 0x28, 0xFF, 0xFE]); break; // not UTF-8
                case 6: BinaryPrimitives.WriteDoubleLittleEndian(slot, rng.NextDouble()); bytes.AddRange(slot); break;
                default: Int(rng.Next()); break;
            }
        }
        return [.. bytes];
    }
}
