using System.Runtime.Serialization;
using Akka.Actor;
using Distill.Actors.Messages;
using Distill.Actors.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class WireSerializerTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static readonly Type[] WireTypes = typeof(IWireMessage).Assembly.GetTypes()
        .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IWireMessage).IsAssignableFrom(t))
        .ToArray();

    private static byte[] Payload(int n)
    {
        var bytes = new byte[n];
        new Random(7).NextBytes(bytes);
        return bytes;
    }

    private WireSerializer Wire => Assert.IsType<WireSerializer>(Sys.Serialization.FindSerializerForType(typeof(TeacherBatch)));

    [Fact]
    public void Every_flow_and_cluster_message_is_bound_to_the_wire_serializer_with_a_manifest_of_its_own()
    {
        Assert.Contains(typeof(TeacherBatch), WireTypes);
        Assert.Contains(typeof(StageMembers), WireTypes);
        Assert.Contains(typeof(LoadShard), WireTypes);
        foreach (var type in WireTypes)
            Assert.IsType<WireSerializer>(Sys.Serialization.FindSerializerForType(type));
        Assert.Equal(WireTypes.Length, WireTypes.Select(t => t.Name).Distinct().Count());
        Assert.Equal("TeacherBatch", Wire.Manifest(new TeacherBatch(1, 1, [])));
    }

    [Fact]
    public void Arrow_payloads_are_copied_raw_behind_a_few_header_bytes()
    {
        var payload = Payload(1 << 20);
        var cases = new (object Message, int Header)[]
        {
            (new TeacherBatch(41, 2, payload), 8),       // shard, attempt
            (new ShardLoaded(41, 2, payload), 8),
            (new TeacherBatchPart(41, 2, 3, 5, payload), 16), // + part, parts
        };
        foreach (var (message, header) in cases)
        {
            var bytes = Wire.ToBinary(message);
            Assert.Equal(payload.Length + header, bytes.Length);
            Assert.True(bytes.AsSpan(header).SequenceEqual(payload), $"{message.GetType().Name}: payload not verbatim");
            // The header is the ints themselves, little-endian: shard 41, attempt 2.
            Assert.Equal([41, 0, 0, 0, 2, 0, 0, 0], bytes[..8]);
        }
        Assert.Equal(8, Wire.ToBinary(new ShardStarted(1, 1)).Length);
        Assert.Empty(Wire.ToBinary(CompleteTraining.Instance));
    }

    [Fact]
    public void Actor_references_come_back_as_the_same_actor()
    {
        var message = new OpenStage("mimic", TestActor, Sys.DeadLetters);
        var back = Assert.IsType<OpenStage>(Wire.FromBinary(Wire.ToBinary(message), Wire.Manifest(message)));
        Assert.Equal("mimic", back.Stage);
        Assert.Equal(TestActor, back.Coordinator);
        back.Coordinator.Tell("hello");
        ExpectMsg("hello");
    }

    [Fact]
    public void Unknown_manifests_short_messages_and_leftover_bytes_are_errors_naming_the_manifest()
    {
        var unknown = Assert.Throws<SerializationException>(() => Wire.FromBinary([1, 2, 3, 4], "Gossip"));
        Assert.Contains("'Gossip'", unknown.Message);

        var shortOne = Assert.Throws<SerializationException>(() => Wire.FromBinary([1, 0, 0, 0], nameof(ShardStarted)));
        Assert.Contains("'ShardStarted'", shortOne.Message);

        var leftover = Assert.Throws<SerializationException>(() => Wire.FromBinary([1, 0, 0, 0, 9], nameof(RequestWork)));
        Assert.Contains("1 bytes left over", leftover.Message);

        var badString = Assert.Throws<SerializationException>(() => Wire.FromBinary([1, 0, 0, 0, 1, 0, 0, 0, 100, 0, 0, 0], nameof(ShardFailed)));
        Assert.Contains("Error: needs 100 bytes at offset 12, 0 left", badString.Message);
    }

    [Fact]
    public void Absurd_lengths_and_counts_are_refused_before_anything_is_allocated_for_them()
    {
        var cases = new (string Manifest, byte[] Frame, string Error)[]
        {
            (nameof(TeacherNodeRegistered), new WireWriter().Int(int.MaxValue).ToArray([1, 2, 3]),
                "RunDir: needs 2147483647 bytes at offset 4, 3 left"),
            (nameof(ShardFailed), new WireWriter().Int(1).Int(1).Int(-7).ToArray(), "Error: string length -7 at offset 8"),
            (nameof(TrainingCompleted), new WireWriter().String(null).Int(int.MaxValue).ToArray(),
                "Figures: count 2147483647 at offset 4, but the 0 bytes left hold at most 0"),
            // 30 bytes could hold two figures (a name's length and a value each), not a billion.
            (nameof(TrainingCompleted), new WireWriter().String(null).Int(1 << 30).ToArray(new byte[30]),
                "Figures: count 1073741824 at offset 4, but the 30 bytes left hold at most 2"),
            (nameof(StageMembers), new WireWriter().Int(-1).ToArray(), "Workers: count -1 at offset 0"),
            (nameof(StageMembers), new WireWriter().Int(0).Int(int.MaxValue).ToArray(new byte[8]),
                "Loaders: count 2147483647 at offset 4, but the 8 bytes left hold at most 2"),
        };
        foreach (var (manifest, frame, error) in cases)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            var e = Assert.Throws<SerializationException>(() => Wire.FromBinary(frame, manifest));
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.Contains($"'{manifest}' message of {frame.Length} bytes", e.Message);
            Assert.Contains(error, e.Message);
            Assert.True(allocated < 256 * 1024, $"{manifest}: {allocated} bytes allocated to refuse a {frame.Length}-byte frame");
        }
    }

    [Fact]
    public void Broken_utf8_unreadable_actor_paths_and_repeated_figures_are_refused()
    {
        var notUtf8 = Assert.Throws<SerializationException>(() =>
            Wire.FromBinary(new WireWriter().Int(2).ToArray([0xC3, 0x28]), nameof(TeacherNodeRegistered)));
        Assert.Contains("RunDir: the 2 bytes of its string at offset 4 are not UTF-8", notUtf8.Message);

        // Akka's own path parser throws a FormatException for a uid that is not a number.
        var badUid = Assert.Throws<SerializationException>(() =>
            Wire.FromBinary(new WireWriter().String("akka://test/user/x#12ab").ToArray(), nameof(RegisterTeacherNode)));
        Assert.Contains("Node: the actor path at offset 0 cannot be resolved", badUid.Message);
        Assert.Contains("'akka://test/user/x#12ab'", badUid.Message);

        var twice = new WireWriter().String("/ckpt").Int(2).String("acc").Double(0.5).String("acc").Double(0.7).ToArray();
        var repeated = Assert.Throws<SerializationException>(() => Wire.FromBinary(twice, nameof(TrainingCompleted)));
        Assert.Contains("Figures[1]: the figure 'acc' comes twice", repeated.Message);
    }

    [Fact]
    public void Failures_cross_the_wire_with_the_exception_behind_them()
    {
        var detail = ErrorDetail.Of(new InvalidOperationException("CUDA error: device-side assert triggered"));
        object[] messages =
        [
            new ComponentFailed("teacher node akka.tcp://distill@10.0.0.5:4060", "opening stage 'mimic' failed: no teacher", detail),
            new ShardFailed(7, 2, "teacher inference failed: CUDA error", detail),
            new ShardLoadFailed(7, 2, "loading shard 7 failed: gone", detail),
        ];
        foreach (var message in messages)
        {
            var back = Wire.FromBinary(Wire.ToBinary(message), Wire.Manifest(message));
            Assert.Equal(message, back);
        }
        // Without one, the detail costs a single length field (-1): the error and nothing else.
        var plain = Wire.ToBinary(new ComponentFailed("student", "nan"));
        Assert.Equal(4 + 7 + 4 + 3 + 4, plain.Length);
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF], plain[^4..]);
        Assert.Null(Assert.IsType<ComponentFailed>(Wire.FromBinary(plain, nameof(ComponentFailed))).Detail);
        // A type without its text is cut short.
        var cut = Wire.ToBinary(new ShardFailed(1, 1, "x", detail));
        var typeOnly = cut[..(4 + 4 + 4 + 1 + 4 + detail.Type.Length)];
        Assert.Throws<SerializationException>(() => Wire.FromBinary(typeOnly, nameof(ShardFailed)));
    }

    [Fact]
    public void A_message_that_is_not_a_wire_message_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => Wire.ToBinary(new RunPipeline()));
        Assert.Contains(typeof(RunPipeline).FullName!, e.Message);
    }
}
