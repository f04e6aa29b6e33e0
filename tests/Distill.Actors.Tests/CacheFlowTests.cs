using Distill.Actors.Messages;
using Distill.Stages.Arrow;
using Distill.Stages.Cache;
using Distill.Stages.Flow;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

/// <summary>The distillation flow with a teacher-output cache: writing each batch once, reuse, resume, replay
/// without a teacher, bad parts regenerated, refused caches and strict ordering.</summary>
public sealed class CacheFlowTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static readonly CacheKey Key = new("teacher-a", "tok-a", TeacherV2.SchemaName, "data-a", "cfg-a");

    private string CacheRoot => Path.Combine(Path.GetDirectoryName(LedgerPath)!, "cache");
    private string CacheDir => Key.DirectoryUnder(CacheRoot, "mimic");
    private string PartPath(int shard) => Path.Combine(CacheDir, CacheManifest.PartFile(shard));
    private int _runs;

    private DistillStage Stage(FlowScenario scenario, CacheMode mode, CacheKey? key = null) =>
        scenario.Stage() with { Cache = new StageCacheSpec(CacheRoot, mode, () => key ?? Key) };

    /// <summary>Runs the stage as a fresh run (own ledger, so nothing is skipped) and returns the answer.</summary>
    private object Run(FlowScenario scenario, CacheMode mode, FlowSettings? settings = null, CacheKey? key = null) =>
        RunStages([Stage(scenario, mode, key)], settings ?? new FlowSettings { TeacherWorkers = 2, CreditWindow = 3 },
            ledgerPath: Path.Combine(Path.GetDirectoryName(LedgerPath)!, $"ledger-{_runs++}.jsonl"));

    private StageResult RunOk(FlowScenario scenario, CacheMode mode, FlowSettings? settings = null)
    {
        var answer = Run(scenario, mode, settings);
        if (answer is PipelineFailed failed) throw new Xunit.Sdk.XunitException($"stage failed: {failed.Error}");
        return Assert.Single(((PipelineCompleted)answer).Stages);
    }

    private PipelineFailed RunFailing(FlowScenario scenario, CacheMode mode, FlowSettings? settings = null, CacheKey? key = null) =>
        Assert.IsType<PipelineFailed>(Run(scenario, mode, settings, key));

    private static FlowScenario Arrow(int shards, string? createTeacherFailure = null, Action<int>? onConsume = null) =>
        new(shards) { ArrowBatches = true, CreateTeacherFailure = createTeacherFailure, OnConsume = onConsume ?? (_ => { }) };

    /// <summary>Writes parts for <paramref name="shards"/> as an earlier run would have.</summary>
    private void Prepopulate(int shardCount, IEnumerable<int> shards)
    {
        var cache = StageCache.Open(CacheRoot, "mimic", Key, shardCount, CacheMode.Reuse);
        foreach (var shard in shards) cache.Write(shard, TestBatches.Teacher(shard));
    }

    private CacheManifest Manifest => CacheManifest.TryRead(CacheDir)!;

    private static void AssertEachShardConsumedOnce(FlowScenario scenario) =>
        Assert.Equal(Enumerable.Range(0, scenario.ShardCount), scenario.Consumed.Order());

    [Fact]
    public void Reuse_writes_every_teacher_batch_once_and_a_rerun_takes_all_from_the_cache_without_a_teacher()
    {
        var live = Arrow(7);
        var first = RunOk(live, CacheMode.Reuse);

        AssertEachShardConsumedOnce(live);
        Assert.Equal(7, first.Outcome.Figures["shards_from_teacher"]);
        Assert.Equal(0, first.Outcome.Figures["shards_from_cache"]);
        Assert.Equal(7, first.Outcome.Figures["cache_parts_written"]);
        var manifest = Manifest;
        Assert.True(manifest.Complete);
        Assert.Equal(Enumerable.Range(0, 7), manifest.Parts.Select(p => p.Shard));
        Assert.All(manifest.Parts, p => Assert.Equal((1L, TeacherV2.SchemaName), (p.Rows, p.Schema)));
        for (var shard = 0; shard < 7; shard++)
            Assert.Equal(TestBatches.Teacher(shard), File.ReadAllBytes(PartPath(shard))); // the teacher's bytes, as sent

        // Everything is cached: the second run loads no teacher at all (its factory would throw).
        var again = Arrow(7, createTeacherFailure: "the teacher must not be loaded");
        var second = RunOk(again, CacheMode.Reuse);
        AssertEachShardConsumedOnce(again);
        Assert.Equal(0, again.TeachersCreated);
        Assert.Equal(7, second.Outcome.Figures["shards_from_cache"]);
        Assert.Equal(0, second.Outcome.Figures["shards_from_teacher"]);
        Assert.Equal(0, second.Outcome.Figures["cache_parts_written"]);
        Assert.Equal(new ShardCounts(0, 0, 7), second.Shards); // nothing was leased to a teacher
    }

    [Fact]
    public void Replay_consumes_every_shard_once_and_never_calls_the_teacher_factory()
    {
        Prepopulate(9, Enumerable.Range(0, 9));
        var replay = Arrow(9, createTeacherFailure: "replay must not create a teacher");

        var result = RunOk(replay, CacheMode.Replay, new FlowSettings { TeacherWorkers = 3, CreditWindow = 2 });

        AssertEachShardConsumedOnce(replay);
        Assert.Equal(0, replay.TeachersCreated);
        Assert.True(replay.StudentCompleted);
        Assert.Equal(9, result.Outcome.Figures["shards_from_cache"]);
        Assert.Equal(new ShardCounts(0, 0, 9), result.Shards);
    }

    [Fact]
    public void Replay_of_an_incomplete_cache_fails_naming_the_missing_shards()
    {
        Prepopulate(6, [0, 1, 2, 4]);
        var replay = Arrow(6, createTeacherFailure: "replay must not create a teacher");

        var failed = RunFailing(replay, CacheMode.Replay);

        Assert.Contains("cache", failed.Error);
        Assert.Contains("no part for shard(s) 3, 5 (4 of 6 present)", failed.Error);
        Assert.Contains("distill.cache.mode = reuse", failed.Error);
        Assert.Equal(0, replay.TeachersCreated);
        Assert.Empty(replay.Consumed);
    }

    [Fact]
    public void A_resumed_stage_runs_the_teacher_only_for_shards_without_a_complete_part()
    {
        // A run killed mid-stage left parts 0, 1, 2, 5, an unfinished temp file and a part it never recorded.
        Prepopulate(8, [0, 1, 2, 5]);
        File.WriteAllBytes(PartPath(6) + ".tmp-123-abc", [1, 2, 3]);
        File.WriteAllBytes(PartPath(7), TestBatches.Teacher(7));

        var resumed = Arrow(8);
        var result = RunOk(resumed, CacheMode.Reuse);

        AssertEachShardConsumedOnce(resumed);
        foreach (var cached in new[] { 0, 1, 2, 5 }) Assert.Equal(0, resumed.InferCalls(cached));
        foreach (var computed in new[] { 3, 4, 6, 7 }) Assert.Equal(1, resumed.InferCalls(computed));
        Assert.Equal(4, result.Outcome.Figures["shards_from_cache"]);
        Assert.Equal(4, result.Outcome.Figures["shards_from_teacher"]);
        Assert.Equal(4, result.Outcome.Figures["cache_parts_written"]);
        Assert.True(Manifest.Complete);
        Assert.Equal(Enumerable.Range(0, 8), Manifest.Parts.Select(p => p.Shard));
        Assert.False(File.Exists(PartPath(6) + ".tmp-123-abc"));
        Assert.Empty(CacheInventory.Verify(CacheInventory.List(CacheRoot).Single()).Problems);
    }

    [Fact]
    public void A_truncated_part_is_detected_reported_and_regenerated_by_the_teacher()
    {
        Prepopulate(5, Enumerable.Range(0, 5));
        var good = File.ReadAllBytes(PartPath(3));
        File.WriteAllBytes(PartPath(3), good[..(good.Length / 2)]);

        var run = Arrow(5);
        var result = RunOk(run, CacheMode.Reuse);

        AssertEachShardConsumedOnce(run);
        Assert.Equal(1, run.InferCalls(3));
        Assert.Equal(0, run.InferCalls(2));
        Assert.Equal(1, result.Outcome.Figures["cache_parts_removed"]);
        Assert.Equal(1, result.Outcome.Figures["shards_from_teacher"]);
        Assert.Equal(good, File.ReadAllBytes(PartPath(3))); // written again, whole
        Assert.True(Manifest.Complete);
    }

    [Fact]
    public void A_part_altered_after_the_cache_opened_is_caught_when_read_and_regenerated()
    {
        Prepopulate(5, Enumerable.Range(0, 5));
        // One shard in flight at a time: shard 3 is read only after shard 0 is consumed, which alters its part.
        var run = Arrow(5, onConsume: shard =>
        {
            if (shard != 0) return;
            var bytes = File.ReadAllBytes(PartPath(3));
            bytes[^5] ^= 0x01;
            File.WriteAllBytes(PartPath(3), bytes);
        });

        var result = RunOk(run, CacheMode.Reuse, new FlowSettings { TeacherWorkers = 1, CreditWindow = 1 });

        AssertEachShardConsumedOnce(run);
        Assert.Equal(1, run.InferCalls(3));
        Assert.Equal(1, run.TeachersCreated); // started only when shard 3 needed one
        Assert.Equal(4, result.Outcome.Figures["shards_from_cache"]);
        Assert.Equal(1, result.Outcome.Figures["shards_from_teacher"]);
        Assert.Equal(1, result.Outcome.Figures["cache_parts_removed"]);
        Assert.Equal(TestBatches.Teacher(3), File.ReadAllBytes(PartPath(3)));
    }

    [Fact]
    public void In_replay_a_part_altered_after_opening_fails_the_stage_naming_it()
    {
        Prepopulate(4, Enumerable.Range(0, 4));
        var run = Arrow(4, createTeacherFailure: "replay must not create a teacher", onConsume: shard =>
        {
            if (shard != 0) return;
            var bytes = File.ReadAllBytes(PartPath(2));
            bytes[^5] ^= 0x01;
            File.WriteAllBytes(PartPath(2), bytes);
        });

        var failed = RunFailing(run, CacheMode.Replay, new FlowSettings { CreditWindow = 1 });

        Assert.Contains(PartPath(2), failed.Error);
        Assert.Contains("altered", failed.Error);
        Assert.DoesNotContain(2, run.Consumed);
        Assert.Equal(0, run.TeachersCreated);
    }

    [Fact]
    public void A_cache_of_another_tokenizer_is_refused_with_a_clear_error()
    {
        Prepopulate(3, Enumerable.Range(0, 3));
        var other = Key with { TokenizerHash = "tok-b" }; // the same folder: the tokenizer is not part of the layout
        var run = Arrow(3);

        var failed = RunFailing(run, CacheMode.Reuse, key: other);

        Assert.Contains("cache", failed.Error);
        Assert.Contains("tokenizer hash tok-a, expected tok-b (another tokenizer)", failed.Error);
        Assert.Contains(Path.Combine(CacheDir, CacheManifest.FileName), failed.Error);
        Assert.Equal(0, run.TeachersCreated);
    }

    [Fact]
    public void A_teacher_batch_that_cannot_be_cached_fails_the_stage_naming_the_shard()
    {
        var run = new FlowScenario(3); // its teachers send raw bytes, not Arrow
        var failed = RunFailing(run, CacheMode.Write);
        Assert.Contains("cache: writing the cache part of shard", failed.Error);
        Assert.Contains("cannot be cached", failed.Error);
    }

    [Fact]
    public void Write_mode_discards_existing_parts_and_runs_the_teacher_for_every_shard()
    {
        Prepopulate(4, Enumerable.Range(0, 4));
        var run = Arrow(4);
        var result = RunOk(run, CacheMode.Write);
        Assert.All(Enumerable.Range(0, 4), s => Assert.Equal(1, run.InferCalls(s)));
        Assert.Equal(4, result.Outcome.Figures["cache_parts_written"]);
        Assert.Equal(0, result.Outcome.Figures["shards_from_cache"]);
        Assert.True(Manifest.Complete);
    }

    [Fact]
    public void Strict_order_consumes_shards_in_id_order_when_teachers_finish_out_of_order_and_one_is_retried()
    {
        // Shard 0 is slow and shard 1 fails once: later shards fill the window and wait for them.
        var run = new FlowScenario(10)
        {
            ArrowBatches = true,
            TeacherStall = (shard, call) => shard == 0 && call == 1 ? TimeSpan.FromMilliseconds(300) : TimeSpan.Zero,
            TeacherFailure = (shard, call) => shard == 1 && call == 1 ? "transient" : null,
        };
        var result = RunOk(run, CacheMode.Reuse,
            new FlowSettings { Loaders = 2, TeacherWorkers = 3, CreditWindow = 2, StrictOrder = true });

        Assert.Equal(Enumerable.Range(0, 10), run.Consumed);
        Assert.Equal(2, run.InferCalls(1));
        Assert.Equal(10, result.Outcome.Figures["shards_from_teacher"]);

        // Replaying the cache with strict order gives the same sequence.
        var replay = Arrow(10, createTeacherFailure: "no teacher in replay");
        RunOk(replay, CacheMode.Replay, new FlowSettings { CreditWindow = 2, StrictOrder = true });
        Assert.Equal(Enumerable.Range(0, 10), replay.Consumed);
    }

    [Fact]
    public void Strict_order_mixes_cached_and_teacher_shards_without_stalling_on_a_full_window()
    {
        // Shards 0 and 3 need a teacher; the cached ones behind them fill the window first and must wait for them.
        Prepopulate(8, [1, 2, 4, 5, 6, 7]);
        var run = Arrow(8);

        var result = RunOk(run, CacheMode.Reuse, new FlowSettings { TeacherWorkers = 1, CreditWindow = 2, StrictOrder = true });

        Assert.Equal(Enumerable.Range(0, 8), run.Consumed);
        Assert.Equal((1, 1), (run.InferCalls(0), run.InferCalls(3)));
        Assert.Equal(6, result.Outcome.Figures["shards_from_cache"]);
        Assert.Equal(2, result.Outcome.Figures["shards_from_teacher"]);
    }

    [Fact]
    public void A_part_computed_from_another_input_is_not_used_and_is_computed_again()
    {
        // The fake source's shard s is the 4 bytes of s; part 2 records the input of another shard.
        static string Input(int shard) => CachePartCheck.Sha256(BitConverter.GetBytes(shard));
        var cache = StageCache.Open(CacheRoot, "mimic", Key, 5, CacheMode.Reuse);
        for (var shard = 0; shard < 5; shard++) cache.Write(shard, TestBatches.Teacher(shard), Input(shard == 2 ? 7 : shard));

        var run = Arrow(5);
        var result = RunOk(run, CacheMode.Reuse);

        AssertEachShardConsumedOnce(run);
        Assert.Equal([0, 0, 1, 0, 0], Enumerable.Range(0, 5).Select(run.InferCalls));
        Assert.Equal(1, result.Outcome.Figures["cache_parts_removed"]);
        Assert.Equal(Input(2), Manifest.Parts.Single(p => p.Shard == 2).InputSha256);
        Assert.All(Manifest.Parts, p => Assert.Equal(Input(p.Shard), p.InputSha256));
    }
}
