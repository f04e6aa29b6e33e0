using Akka.Actor;
using Distill.Actors.Flow;
using Distill.Actors.Messages;
using Distill.Stages.Flow;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class TrainerTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static byte[] TeacherOutput(int shard) => [.. BitConverter.GetBytes(shard), 0xAB];

    [Fact]
    public void Duplicate_deliveries_are_dropped_and_each_shard_is_acked_once()
    {
        var scenario = new FlowScenario(3);
        var trainer = Sys.ActorOf(Trainer.Props(scenario.CreateStudent, TestActor, NullStageProgress.Instance, default));

        trainer.Tell(new TeacherBatch(1, 1, TeacherOutput(1)));
        trainer.Tell(new TeacherBatch(1, 2, TeacherOutput(1))); // a re-leased copy
        trainer.Tell(new TeacherBatch(0, 1, TeacherOutput(0)));
        trainer.Tell(new TeacherBatch(1, 1, TeacherOutput(1))); // the same message again

        Assert.Equal(new ShardConsumed(1, 2, 0.5), ExpectMsg<ShardConsumed>());
        Assert.Equal(new ShardConsumed(0, 2, 1.0), ExpectMsg<ShardConsumed>());
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal([1, 0], scenario.Consumed);

        trainer.Tell(CompleteTraining.Instance);
        var done = ExpectMsg<TrainingCompleted>();
        Assert.Equal("/ckpt/student", done.Outcome.Checkpoint);
        Assert.True(scenario.StudentCompleted);
    }

    [Fact]
    public void The_trainer_answers_while_its_student_computes()
    {
        var scenario = new FlowScenario(2) { StudentDelay = TimeSpan.FromMilliseconds(500) };
        var trainer = Sys.ActorOf(Trainer.Props(scenario.CreateStudent, TestActor, NullStageProgress.Instance, default));
        trainer.Tell(new TeacherBatch(0, 1, TeacherOutput(0)));
        trainer.Tell(new TeacherBatch(1, 1, TeacherOutput(1)));
        // Identify is answered by the trainer's own mailbox, not behind the student's 0.5 s steps.
        var watch = System.Diagnostics.Stopwatch.StartNew();
        trainer.Tell(new Identify(42));
        ExpectMsg<ActorIdentity>(TimeSpan.FromMilliseconds(400));
        Assert.True(watch.Elapsed < TimeSpan.FromMilliseconds(400));
        ExpectMsg<ShardConsumed>();
        ExpectMsg<ShardConsumed>();
    }

    [Fact]
    public void A_failing_student_step_is_reported_once_and_later_batches_are_ignored()
    {
        var scenario = new FlowScenario(3) { ConsumeFailure = s => s == 0 ? "shape mismatch" : null };
        var trainer = Sys.ActorOf(Trainer.Props(scenario.CreateStudent, TestActor, NullStageProgress.Instance, default));
        trainer.Tell(new TeacherBatch(0, 1, TeacherOutput(0)));
        trainer.Tell(new TeacherBatch(1, 1, TeacherOutput(1)));
        var failed = ExpectMsg<ComponentFailed>();
        Assert.Equal("student", failed.Component);
        Assert.Contains("consuming shard 0 failed: shape mismatch", failed.Error);
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Empty(scenario.Consumed);
    }

    [Fact]
    public void Strict_order_holds_early_shards_back_and_each_teacher_batch_goes_to_the_cache_once()
    {
        var scenario = new FlowScenario(4);
        var writer = CreateTestProbe();
        var trainer = Sys.ActorOf(Trainer.Props(scenario.CreateStudent, TestActor, NullStageProgress.Instance, default,
            strictOrder: true, cacheWriter: writer));

        trainer.Tell(new TeacherBatch(2, 1, TeacherOutput(2)));
        trainer.Tell(new CachedBatch(1, TeacherOutput(1)));  // from the cache: not written again
        trainer.Tell(new TeacherBatch(2, 2, TeacherOutput(2))); // duplicate: neither consumed nor written
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));          // shard 0 has not come: nothing is consumed yet
        trainer.Tell(new TeacherBatch(0, 1, TeacherOutput(0)));

        Assert.Equal([0, 1, 2], Enumerable.Range(0, 3).Select(_ => ExpectMsg<ShardConsumed>().ShardId));
        Assert.Equal([0, 1, 2], scenario.Consumed);
        Assert.Equal(2, writer.ExpectMsg<WriteCachedShard>().ShardId);
        Assert.Equal(0, writer.ExpectMsg<WriteCachedShard>().ShardId);
        writer.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }
}
