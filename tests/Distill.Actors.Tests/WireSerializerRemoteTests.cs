using Akka.Actor;
using Akka.Configuration;
using Distill.Actors.Messages;
using Distill.Actors.Serialization;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

/// <summary>Two ActorSystems on loopback ports: the test kit's system (with the wire serializer) receives, a second
/// one sends frames as they are (<see cref="RawFrameSerializer"/>). A malformed frame costs that one message, logged
/// as a warning that says what was wrong with it, not the association.</summary>
public sealed class WireSerializerRemoteTests : Akka.TestKit.Xunit2.TestKit
{
    private static Config Remote(string extra) => ConfigurationFactory.ParseString($$"""
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
        {{extra}}
        """);

    private static readonly Config SenderConfig = Remote("""
        akka.actor.serializers.raw-frame = "Distill.Actors.Tests.RawFrameSerializer, Distill.Actors.Tests"
        akka.actor.serialization-bindings { "Distill.Actors.Tests.RawFrame, Distill.Actors.Tests" = raw-frame }
        """);

    public WireSerializerRemoteTests(ITestOutputHelper output)
        : base(Remote("").WithFallback(DistillActorsConfig.Config), output: output)
    {
    }

    [Fact]
    public void A_node_logs_and_drops_a_malformed_frame_and_keeps_taking_messages_from_the_same_node()
    {
        var sender = ActorSystem.Create("sender", SenderConfig);
        try
        {
            var address = ((ExtendedActorSystem)Sys).Provider.DefaultAddress;
            var target = ((ExtendedActorSystem)sender).Provider.ResolveActorRef(TestActor.Path.ToStringWithAddress(address));
            var wire = Assert.IsType<WireSerializer>(Sys.Serialization.FindSerializerForType(typeof(ShardStarted)));

            target.Tell(new RawFrame(nameof(ShardStarted), wire.ToBinary(new ShardStarted(3, 1))));
            ExpectMsg(new ShardStarted(3, 1));

            // Akka's path parser throws a FormatException on this uid; the warning carries the serializer's own account.
            var badPath = new WireWriter().String("akka://test/user/x#12ab").ToArray();
            EventFilter.Warning(contains: "Cannot read a 'RegisterTeacherNode' message").ExpectOne(() =>
                target.Tell(new RawFrame(nameof(RegisterTeacherNode), badPath)));
            var hugeCount = new WireWriter().String(null).Int(int.MaxValue).ToArray();
            EventFilter.Warning(contains: "Figures: count 2147483647").ExpectOne(() =>
                target.Tell(new RawFrame(nameof(TrainingCompleted), hugeCount)));

            target.Tell(new RawFrame(nameof(ShardStarted), wire.ToBinary(new ShardStarted(3, 2))));
            ExpectMsg(new ShardStarted(3, 2));
            ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        }
        finally
        {
            Shutdown(sender, verifySystemShutdown: true);
        }
    }
}
