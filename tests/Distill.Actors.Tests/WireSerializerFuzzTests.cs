using System.Diagnostics;
using System.Runtime.Serialization;
using Akka.Actor;
using Distill.Actors.Messages;
using Distill.Actors.Serialization;
using Distill.Stages.Flow;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

/// <summary>A node must survive whatever bytes arrive under the wire serializer's id: a broken frame either decodes
/// to some message or is refused with a <see cref="SerializationException"/> (which Akka.Remote logs, dropping the
/// message and keeping the association), never with another exception and never by allocating what a length said.</summary>
public sealed class WireSerializerFuzzTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private const int Seed = 15;

    private WireSerializer Wire => Assert.IsType<WireSerializer>(Sys.Serialization.FindSerializerForType(typeof(TeacherBatch)));

    /// <summary>One message of every wire type, its actor references <paramref name="a"/> and dead letters.</summary>
    private object[] OneOfEach(IActorRef a)
    {
        var detail = new ErrorDetail("System.IO.IOException", "System.IO.IOException: disk full\n   at X.Y() in Z.cs:line 3");
        return
        [
            new SourceReady(12),
            new RequestWork(2),
            new LoadShard(3, 1, a),
            new ShardLoaded(3, 1, [1, 2, 3, 255]),
            new ShardLoadFailed(3, 1, "read error", detail),
            new ShardStarted(3, 2),
            new TeacherBatch(3, 2, [9, 8, 7]),
            new TeacherBatchPart(3, 2, 1, 4, [5, 6, 7]),
            new ShardInferred(3, 2),
            new ShardFailed(3, 2, "inference failed: \u00e9t\u00e9 \u2603", detail),
            new ShardConsumed(3, 32, 0.5),
            CompleteTraining.Instance,
            new TrainingCompleted(new StageOutcome("/ckpt", new Dictionary<string, double> { ["acc"] = 0.75, ["loss"] = 1.5 })),
            new ComponentFailed("student", "nan"),
            CheckLeases.Instance,
            new RegisterTeacherNode(a),
            new TeacherNodeRegistered("/runs/x"),
            new SubscribeTeacherNodes(a),
            new TeacherNodeAvailable(Sys.DeadLetters),
            new OpenStage("mimic", a, Sys.DeadLetters),
            new StageMembers([a, Sys.DeadLetters], [a]),
        ];
    }

    /// <summary>The frames the corpus is made from: the same bytes in every run (fixed actor paths and uids), so a
    /// failing frame can be found again.</summary>
    private IReadOnlyList<(string Manifest, byte[] Bytes)> ValidFrames() =>
        OneOfEach(new FixedPathActorRef(Sys, "worker-1", 1625834311)).Select(m => (Wire.Manifest(m), Wire.ToBinary(m))).ToList();

    [Fact]
    public void The_samples_cover_every_wire_message_type()
    {
        var wireTypes = typeof(IWireMessage).Assembly.GetTypes()
            .Where(t => t is { IsClass: true, IsAbstract: false } && typeof(IWireMessage).IsAssignableFrom(t));
        var covered = OneOfEach(TestActor).Select(m => m.GetType()).ToHashSet();
        Assert.Empty(wireTypes.Where(t => !covered.Contains(t)).Select(t => t.Name));
    }

    [Fact]
    public void Valid_frames_still_round_trip_to_the_same_bytes()
    {
        foreach (var message in OneOfEach(TestActor))
        {
            var bytes = Wire.ToBinary(message);
            var back = Wire.FromBinary(bytes, Wire.Manifest(message));
            Assert.IsType(message.GetType(), back);
            Assert.Equal(bytes, Wire.ToBinary(back));
        }
    }

    [Fact]
    public void Thousands_of_broken_frames_decode_or_are_refused_with_a_serialization_exception_naming_the_manifest()
    {
        var frames = WireFrameCorpus.Make(ValidFrames(), Seed);
        Assert.True(frames.Count >= 4000, $"only {frames.Count} frames");

        var clock = Stopwatch.StartNew();
        var (decoded, refused) = (0, 0);
        var problems = new List<(string Kind, WireFrameCorpus.Frame Frame, string What)>();
        foreach (var frame in frames)
        {
            object message;
            try
            {
                message = Wire.FromBinary(frame.Bytes, frame.Manifest!);
            }
            catch (SerializationException e) when (e.GetType() == typeof(SerializationException))
            {
                refused++;
                if (!e.Message.Contains($"'{frame.Manifest}'"))
                    problems.Add(("refused without naming the manifest", frame, e.Message));
                continue;
            }
            catch (Exception e)
            {
                problems.Add(($"escaped as {e.GetType().Name}", frame, e.Message));
                continue;
            }
            decoded++;
            // What decodes is a message of the manifest's type that can be sent on: its bytes decode to the same bytes.
            if (message.GetType().Name != frame.Manifest)
                problems.Add(("decoded as another type", frame, message.GetType().Name));
            else
            {
                var again = Wire.ToBinary(message);
                if (!again.AsSpan().SequenceEqual(Wire.ToBinary(Wire.FromBinary(again, frame.Manifest))))
                    problems.Add(("decoded to a message that does not round-trip", frame, message.ToString()!));
            }
        }
        clock.Stop();
        Output?.WriteLine($"{frames.Count} frames in {clock.ElapsedMilliseconds} ms: {decoded} decoded, {refused} refused, {problems.Count} problems");

        var summary = string.Join("\n", problems.GroupBy(p => p.Kind).Select(g =>
            $"{g.Key} x{g.Count()}, e.g. {string.Join("; ", g.Take(3).Select(p => $"[{p.Frame.How}] {Shorten(p.What)}"))}"));
        Assert.True(problems.Count == 0, $"{problems.Count} of {frames.Count} frames went wrong:\n{summary}");
        Assert.True(refused > frames.Count / 2, $"only {refused} of {frames.Count} frames were refused");
    }

    private static string Shorten(string text) => text.Length <= 300 ? text : text[..300] + "...";
}
