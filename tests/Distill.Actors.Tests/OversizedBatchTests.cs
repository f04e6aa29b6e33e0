using Akka.Actor;
using Akka.TestKit;
using Distill.Actors.Flow;
using Distill.Actors.Messages;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class OversizedBatchTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private const long Limit = 16 * 1024;

    [Fact]
    public void A_teacher_batch_above_the_limit_goes_to_the_trainer_in_parts_within_the_limit()
    {
        var scenario = new ArrowFlowScenario(1, rowsPerShard: 40, idsPerRow: 400); // ~40 * 400 * 5 = 80 KB
        var coordinator = CreateTestProbe();
        var trainer = CreateTestProbe();
        var worker = Sys.ActorOf(TeacherWorker.Props(scenario.Stage().CreateTeacher, coordinator, trainer, prefetch: 1, Limit));
        coordinator.ExpectMsg<RequestWork>();

        var batch = scenario.ShardBytes(0);
        Assert.True(batch.Length > 4 * Limit, $"batch of {batch.Length} bytes");
        worker.Tell(new ShardLoaded(0, 1, batch));

        var first = trainer.ExpectMsg<TeacherBatchPart>();
        var parts = new List<TeacherBatchPart> { first };
        for (var i = 1; i < first.Parts; i++) parts.Add(trainer.ExpectMsg<TeacherBatchPart>());
        trainer.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.True(first.Parts >= 5, $"{first.Parts} parts");
        Assert.Equal(Enumerable.Range(0, first.Parts), parts.Select(p => p.Part));
        Assert.All(parts, p => Assert.Equal((0, 1, first.Parts), (p.ShardId, p.Attempt, p.Parts)));
        Assert.All(parts, p => Assert.InRange(p.Bytes.LongLength, 1, Limit));
        Assert.Equal(Enumerable.Range(0, 40).Select(i => ArrowFlowScenario.SampleId(0, i)),
            SamplesV1.Read(ArrowBatchSplitter.Join(parts.Select(p => p.Bytes).ToList())).Select(r => r.SampleId));

        coordinator.ExpectMsg<ShardStarted>();
        Assert.Equal(new ShardInferred(0, 1), coordinator.ExpectMsg<ShardInferred>());
    }

    [Fact]
    public void The_trainer_joins_parts_in_any_order_and_consumes_the_shard_once()
    {
        var scenario = new ArrowFlowScenario(2, rowsPerShard: 30, idsPerRow: 300);
        var trainer = Sys.ActorOf(Trainer.Props(scenario.Stage().CreateStudent, TestActor, NullStageProgress.Instance, default));
        var parts = ArrowBatchSplitter.Split(scenario.ShardBytes(1), Limit);
        Assert.True(parts.Count >= 3);

        foreach (var i in Enumerable.Range(0, parts.Count).Reverse())
            trainer.Tell(new TeacherBatchPart(1, 1, i, parts.Count, parts[i]));
        Assert.Equal(new ShardConsumed(1, 30, 0.5), ExpectMsg<ShardConsumed>());
        // A re-leased attempt of the same shard, whole or in parts, is a duplicate.
        trainer.Tell(new TeacherBatch(1, 2, scenario.ShardBytes(1)));
        trainer.Tell(new TeacherBatchPart(1, 3, 0, parts.Count, parts[0]));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal([1], scenario.Consumed);
    }

    [Fact]
    public void A_part_that_does_not_fit_fails_only_that_attempt()
    {
        var scenario = new ArrowFlowScenario(1, rowsPerShard: 30, idsPerRow: 300);
        var trainer = Sys.ActorOf(Trainer.Props(scenario.Stage().CreateStudent, TestActor, NullStageProgress.Instance, default));
        var parts = ArrowBatchSplitter.Split(scenario.ShardBytes(0), Limit);

        trainer.Tell(new TeacherBatchPart(0, 1, 0, parts.Count, parts[0]));
        trainer.Tell(new TeacherBatchPart(0, 1, 0, parts.Count, parts[0])); // the same part twice
        var failed = ExpectMsg<ShardFailed>();
        Assert.Equal((0, 1), (failed.ShardId, failed.Attempt));
        Assert.Contains($"part 1 of {parts.Count}", failed.Error);

        // The next attempt comes whole and is taken.
        trainer.Tell(new TeacherBatch(0, 2, scenario.ShardBytes(0)));
        Assert.Equal(new ShardConsumed(0, 30, 0.5), ExpectMsg<ShardConsumed>());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(Trainer.MaxParts + 1)]
    [InlineData(int.MaxValue)]
    public void An_absurd_part_count_fails_only_that_attempt(int parts)
    {
        var scenario = new ArrowFlowScenario(1, rowsPerShard: 30, idsPerRow: 300);
        var trainer = Sys.ActorOf(Trainer.Props(scenario.Stage().CreateStudent, TestActor, NullStageProgress.Instance, default));
        trainer.Tell(new TeacherBatchPart(0, 1, 0, parts, [1, 2, 3]));
        var failed = ExpectMsg<ShardFailed>();
        Assert.Equal((0, 1), (failed.ShardId, failed.Attempt));
        Assert.Contains($"a batch has 1..{Trainer.MaxParts} parts", failed.Error);

        trainer.Tell(new TeacherBatch(0, 2, scenario.ShardBytes(0)));   // the trainer goes on
        Assert.Equal(new ShardConsumed(0, 30, 0.5), ExpectMsg<ShardConsumed>());
    }

    [Fact]
    public void A_stage_with_oversized_batches_consumes_every_row_of_every_shard_once()
    {
        var scenario = new ArrowFlowScenario(6, rowsPerShard: 25, idsPerRow: 500);
        var settings = new FlowSettings { Loaders = 2, TeacherWorkers = 2, CreditWindow = 3, MaxBatchBytes = Limit };
        var result = Assert.Single(RunOk([scenario.Stage()], settings).Stages);

        Assert.Equal(Enumerable.Range(0, 6), scenario.Consumed.Order());
        Assert.Equal(new ShardCounts(6, 0, 6), result.Shards);
    }

    [Fact]
    public void A_single_row_above_the_limit_fails_the_stage_naming_the_sample_and_is_never_dropped()
    {
        var scenario = new ArrowFlowScenario(3, rowsPerShard: 5, idsPerRow: 10) { GiantSample = "s1-r3", GiantIds = 20_000 };
        var settings = new FlowSettings { Loaders = 1, TeacherWorkers = 1, CreditWindow = 1, MaxBatchBytes = Limit };
        var failed = Assert.IsType<PipelineFailed>(RunStages([scenario.Stage()], settings));

        Assert.Equal("mimic", failed.Stage);
        Assert.Contains("shard 1", failed.Error);
        Assert.Contains("sample 's1-r3'", failed.Error);
        Assert.Contains("max-batch-bytes", failed.Error);
        Assert.DoesNotContain(1, scenario.Consumed);
    }
}
