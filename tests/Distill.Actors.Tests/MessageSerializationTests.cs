using Akka.Actor;
using Distill.Actors.Messages;
using Distill.Stages.Flow;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class MessageSerializationTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static readonly StageOutcome Outcome =
        new("/ckpt", new Dictionary<string, double> { ["acc"] = 0.75, ["nan"] = double.NaN });

    private static readonly StageResult Result = new("mimic", StageStatus.Completed, Outcome, 1.25, new ShardCounts(5, 1, 4));

    private static readonly ErrorDetail Detail = new("System.IO.IOException",
        "System.IO.IOException: disk full\n   at Distill.Stages.Cache.StageCache.Write(Int32 shard) in StageCache.cs:line 12");

    private object[] OneOfEach() =>
    [
        RunPipeline.Instance,
        CancelPipeline.Instance,
        new ShardCounts(3, 1, 2),
        Result,
        new PipelineCompleted([Result, Result with { Status = StageStatus.Skipped }]),
        new PipelineFailed("mimic", "shard 5 failed", [Result], Detail),
        Detail,
        new StageSucceeded("mimic", Outcome, new ShardCounts(1, 0, 1)),
        new StageFailed("mimic", "boom", ShardCounts.None, Detail),
        RunStage.Instance,
        new SourceReady(12),
        new RequestWork(2),
        new LoadShard(3, 1, TestActor),
        new ShardLoaded(3, 1, [1, 2, 3, 255]),
        new ShardLoadFailed(3, 1, "read error", Detail),
        new ShardStarted(3, 2),
        new TeacherBatch(3, 2, [9, 8, 7]),
        new ShardInferred(3, 2),
        new ShardFailed(3, 2, "inference failed", Detail),
        new ShardConsumed(3, 32, 0.5),
        CompleteTraining.Instance,
        new TrainingCompleted(Outcome),
        new ComponentFailed("student", "nan"),
        new ComponentFailed("teacher worker teacher-0", "creating the teacher failed: disk full", Detail),
        CheckLeases.Instance,
        new ConsumeShard(4, [1, 2]),
        new ShardTrained(4, 32, 1.5),
        CompleteStudent.Instance,
        new StudentCompleted(StageOutcome.Empty),
        new StudentFailed("bad", Detail),
        new TeacherBatchPart(3, 2, 1, 4, [5, 6, 7]),
        new RegisterTeacherNode(TestActor),
        new TeacherNodeRegistered("/runs/x"),
        new SubscribeTeacherNodes(TestActor),
        new TeacherNodeAvailable(TestActor),
        new OpenStage("mimic", TestActor, TestActor),
        new StageMembers([TestActor, TestActor], [TestActor]),
        TeacherWaitExpired.Instance,
        RetryRegistration.Instance,
        RegistrationTimedOut.Instance,
        AwaitNodeEnd.Instance,
        new TeacherNodeEnded(true, "the coordinator left"),
        new OpenCache(12, TestActor),
        new CacheOpened("/cache/t/mimic/k", [0, 2, 5], ["part-00001.arrow: truncated; removed"], 1),
        new ReadCachedShard(5),
        new CachedBatch(5, [1, 2, 3]),
        new CachedShardBad(5, "sha256 differs", true),
        new WriteCachedShard(6, [4, 5, 6]),
        FinishCache.Instance,
        new CacheFinished(3, 9, 1),
    ];

    [Fact]
    public void Every_message_type_has_a_sample_here()
    {
        var covered = OneOfEach().Select(m => m.GetType()).ToHashSet();
        var messageTypes = typeof(RunPipeline).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(RunPipeline).Namespace && t is { IsClass: true, IsAbstract: false })
            .Where(t => !t.Name.StartsWith('<'));
        Assert.Empty(messageTypes.Where(t => !covered.Contains(t)).Select(t => t.Name));
    }

    [Fact]
    public void Every_message_round_trips_through_the_configured_serializer()
    {
        foreach (var message in OneOfEach())
        {
            var serializer = Sys.Serialization.FindSerializerFor(message);
            var bytes = serializer.ToBinary(message);
            var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, message);
            var back = Sys.Serialization.Deserialize(bytes, serializer.Identifier, manifest);

            Assert.IsType(message.GetType(), back);
            // Same bytes again: nothing was lost or changed on the way.
            Assert.Equal(bytes, serializer.ToBinary(back));
            AssertSame(message, back);
        }
    }

    private static void AssertSame(object expected, object actual)
    {
        switch (expected, actual)
        {
            case (ShardLoaded e, ShardLoaded a):
                Assert.Equal((e.ShardId, e.Attempt), (a.ShardId, a.Attempt));
                Assert.Equal(e.SamplesV1, a.SamplesV1);
                break;
            case (TeacherBatch e, TeacherBatch a):
                Assert.Equal((e.ShardId, e.Attempt), (a.ShardId, a.Attempt));
                Assert.Equal(e.Outputs, a.Outputs);
                break;
            case (TeacherBatchPart e, TeacherBatchPart a):
                Assert.Equal((e.ShardId, e.Attempt, e.Part, e.Parts), (a.ShardId, a.Attempt, a.Part, a.Parts));
                Assert.Equal(e.Bytes, a.Bytes);
                break;
            case (StageMembers e, StageMembers a):
                Assert.Equal(e.Workers, a.Workers);
                Assert.Equal(e.Loaders, a.Loaders);
                break;
            case (ConsumeShard e, ConsumeShard a):
                Assert.Equal(e.ShardId, a.ShardId);
                Assert.Equal(e.Outputs, a.Outputs);
                break;
            case (CacheOpened e, CacheOpened a):
                Assert.Equal((e.Directory, e.PartsRemoved), (a.Directory, a.PartsRemoved));
                Assert.Equal(e.Cached, a.Cached);
                Assert.Equal(e.Repairs, a.Repairs);
                break;
            case (CachedBatch e, CachedBatch a):
                Assert.Equal(e.ShardId, a.ShardId);
                Assert.Equal(e.Batch, a.Batch);
                break;
            case (WriteCachedShard e, WriteCachedShard a):
                Assert.Equal(e.ShardId, a.ShardId);
                Assert.Equal(e.Batch, a.Batch);
                break;
            case (OpenCache e, OpenCache a):
                Assert.Equal((e.ShardCount, e.Trainer), (a.ShardCount, a.Trainer));
                break;
            case (LoadShard e, LoadShard a):
                Assert.Equal((e.ShardId, e.Attempt, e.Worker), (a.ShardId, a.Attempt, a.Worker));
                break;
            case (PipelineCompleted e, PipelineCompleted a):
                Assert.Equal(e.Stages.Count, a.Stages.Count);
                for (var i = 0; i < e.Stages.Count; i++) AssertSame(e.Stages[i], a.Stages[i]);
                break;
            case (PipelineFailed e, PipelineFailed a):
                Assert.Equal((e.Stage, e.Error, e.Detail), (a.Stage, a.Error, a.Detail));
                AssertSame(e.Stages.Single(), a.Stages.Single());
                break;
            case (StageResult e, StageResult a):
                Assert.Equal((e.Stage, e.Status, e.WallSeconds, e.Shards), (a.Stage, a.Status, a.WallSeconds, a.Shards));
                AssertSame(e.Outcome, a.Outcome);
                break;
            case (StageSucceeded e, StageSucceeded a):
                Assert.Equal((e.Stage, e.Shards), (a.Stage, a.Shards));
                AssertSame(e.Outcome, a.Outcome);
                break;
            case (TrainingCompleted e, TrainingCompleted a):
                AssertSame(e.Outcome, a.Outcome);
                break;
            case (StudentCompleted e, StudentCompleted a):
                AssertSame(e.Outcome, a.Outcome);
                break;
            case (StageOutcome e, StageOutcome a):
                Assert.Equal(e.Checkpoint, a.Checkpoint);
                Assert.Equal(e.Figures.OrderBy(kv => kv.Key), a.Figures.OrderBy(kv => kv.Key));
                break;
            default:
                Assert.Equal(expected, actual); // plain records of values
                break;
        }
    }
}
