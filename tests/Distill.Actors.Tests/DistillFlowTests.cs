using Akka.Actor;
using Distill.Actors.Messages;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class DistillFlowTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static void AssertEachShardConsumedOnce(FlowScenario scenario) =>
        Assert.Equal(Enumerable.Range(0, scenario.ShardCount), scenario.Consumed.Order());

    private StageResult RunDistill(FlowScenario scenario, FlowSettings settings, IStageProgress? progress = null) =>
        Assert.Single(RunOk([scenario.Stage()], settings, progress).Stages);

    private PipelineFailed RunDistillFailing(FlowScenario scenario, FlowSettings settings) =>
        Assert.IsType<PipelineFailed>(RunStages([scenario.Stage()], settings));

    [Fact]
    public void Credit_window_bounds_shards_in_flight_with_a_fast_teacher_and_a_slow_student()
    {
        var scenario = new FlowScenario(16) { StudentDelay = TimeSpan.FromMilliseconds(15) };
        var result = RunDistill(scenario, new FlowSettings { Loaders = 2, TeacherWorkers = 3, CreditWindow = 3, TeacherPrefetch = 2 });

        AssertEachShardConsumedOnce(scenario);
        Assert.True(scenario.MaxInFlight <= 3, $"max in flight {scenario.MaxInFlight} > window 3");
        Assert.Equal(3, scenario.MaxInFlight); // the window was used: the student was kept fed
        Assert.Equal(new ShardCounts(16, 0, 16), result.Shards);
    }

    [Fact]
    public void The_outcome_carries_how_busy_the_trainer_was_while_the_batches_streamed_in()
    {
        var scenario = new FlowScenario(6) { StudentDelay = TimeSpan.FromMilliseconds(20) };
        var result = RunDistill(scenario, new FlowSettings { Loaders = 1, TeacherWorkers = 2, CreditWindow = 2 });

        var f = result.Outcome.Figures;
        Assert.Equal(6, f["consumed"]); // the student's own figures stay
        // Six Consume calls each sleep 20 ms: at least 0.12 s inside Consume, within the streaming phase.
        Assert.True(f["trainer_consume_seconds"] >= 0.12, $"consume {f["trainer_consume_seconds"]}");
        Assert.True(f["trainer_stream_seconds"] >= f["trainer_consume_seconds"], $"stream {f["trainer_stream_seconds"]}");
        Assert.Equal(f["trainer_consume_seconds"] / f["trainer_stream_seconds"], f["trainer_busy_fraction"], 12);
        Assert.True(f["trainer_complete_seconds"] >= 0);
        Assert.False(f.ContainsKey("trainer_arrow_decode_seconds")); // the fake student does not time its Arrow decoding
    }

    [Fact]
    public void Progress_keeps_the_last_training_loss_when_held_out_shards_report_none()
    {
        var scenario = new FlowScenario(8) { HeldOutFrom = 6 };
        var progress = new RecordingProgress();
        var settings = new FlowSettings { Loaders = 1, TeacherWorkers = 1, CreditWindow = 1 }; // one shard at a time: in order
        RunDistill(scenario, settings, progress);

        var distill = progress.Reports.Where(p => p.Phase == "distill").ToList();
        Assert.Equal(8, distill[^1].Step);
        Assert.Equal(1.0 / 6, distill[^1].Loss, 12); // shard 5 was the last one trained on
    }

    [Fact]
    public void Several_loaders_and_teachers_consume_every_shard_once_and_return_the_outcome()
    {
        var scenario = new FlowScenario(24) { TeacherDelay = TimeSpan.FromMilliseconds(2) };
        var progress = new RecordingProgress();
        var result = RunDistill(scenario, new FlowSettings { Loaders = 3, TeacherWorkers = 3, CreditWindow = 6 }, progress);

        AssertEachShardConsumedOnce(scenario);
        Assert.Equal(StageStatus.Completed, result.Status);
        Assert.Equal("/ckpt/student", result.Outcome.Checkpoint);
        Assert.Equal(24, result.Outcome.Figures["consumed"]);
        Assert.Equal(new ShardCounts(24, 0, 24), result.Shards);
        Assert.True(scenario.StudentCompleted);
        Assert.Equal(3, scenario.TeachersCreated);

        var distill = progress.Reports.Where(p => p.Phase == "distill").ToList();
        Assert.All(distill, p => Assert.Equal(("mimic", 24L), (p.Stage, p.TotalSteps)));
        Assert.Equal(24, distill[^1].Step);
        Assert.Contains(distill.Single(p => p.Step == 24).Loss, Enumerable.Range(1, 24).Select(k => 1.0 / k)); // last shard's loss
        Assert.Contains(progress.Reports, p => p.Phase == "complete");

        var completed = new RunLedger(LedgerPath).ReadAll()[^1];
        Assert.Equal(RunLedgerStatus.Completed, completed.Status);
        Assert.Equal((24, 0, 24), (completed.ShardsIssued, completed.ShardsReissued, completed.ShardsConsumed));
        Assert.Equal("/ckpt/student", completed.Checkpoint);
    }

    [Fact]
    public void A_stage_with_no_shards_completes_the_student()
    {
        var scenario = new FlowScenario(0);
        var result = RunDistill(scenario, new FlowSettings());
        Assert.True(scenario.StudentCompleted);
        Assert.Equal(new ShardCounts(0, 0, 0), result.Shards);
    }

    [Fact]
    public void A_teacher_worker_stopped_mid_stage_loses_its_leases_to_a_replacement()
    {
        // One worker, blocked in inference on shard 0 while shard 1 is prefetched for it; it is stopped meanwhile.
        var scenario = new FlowScenario(6) { TeacherStall = (shard, call) => shard == 0 && call == 1 ? Long : TimeSpan.Zero };
        var supervisor = Sys.ActorOf(Supervision.PipelineSupervisor.Props([scenario.Stage()],
            new FlowSettings { Loaders = 1, TeacherWorkers = 1, CreditWindow = 4, TeacherPrefetch = 2 },
            LedgerPath, NullStageProgress.Instance));
        supervisor.Tell(RunPipeline.Instance, TestActor);

        Assert.True(scenario.Stalled.Wait(Long));
        // The worker is blocked in inference, so it cannot answer an Identify; the fake saw which actor it runs in.
        var worker = scenario.StalledWorker!;
        Assert.Equal("teacher-0", worker.Path.Name);
        Sys.Stop(worker);
        scenario.Release.Set();

        var result = Assert.Single(ExpectMsg<PipelineCompleted>(Long).Stages);
        AssertEachShardConsumedOnce(scenario);
        Assert.True(result.Shards.Reissued > 0, $"re-issued {result.Shards.Reissued}");
        Assert.Equal(6, result.Shards.Consumed);
        Assert.Equal(6 + result.Shards.Reissued, result.Shards.Issued);
        Assert.Equal(2, scenario.TeachersCreated); // the replacement
        AwaitAssert(() => Assert.Equal(2, scenario.TeachersDisposed), Long); // the stopped one and, after the stage, its replacement
    }

    [Fact]
    public void A_teacher_stalling_past_the_lease_timeout_has_its_shard_re_leased()
    {
        var scenario = new FlowScenario(8)
        {
            // 10x the lease timeout: a loaded 2-core machine (the first test of a cold test host) may take a second to notice.
            TeacherStall = (shard, call) => shard == 2 && call == 1 ? TimeSpan.FromMilliseconds(3000) : TimeSpan.Zero,
        };
        var result = RunDistill(scenario, new FlowSettings
        {
            Loaders = 2, TeacherWorkers = 2, CreditWindow = 4, LeaseTimeout = TimeSpan.FromMilliseconds(300),
        });

        AssertEachShardConsumedOnce(scenario);
        Assert.True(result.Shards.Reissued > 0, $"re-issued {result.Shards.Reissued}");
        Assert.True(scenario.InferCalls(2) >= 2);
    }

    [Fact]
    public void A_teacher_ten_times_slower_than_the_others_loses_its_leases_and_nothing_is_consumed_twice()
    {
        // Fault drill (issue 15, item 6): teacher 1 is alive but takes 10x as long per shard as the other two, longer
        // than the lease timeout, so every lease it takes expires and moves to a fast teacher; its late answers are dropped.
        var scenario = new FlowScenario(24)
        {
            TeacherDelay = TimeSpan.FromMilliseconds(40),
            TeacherDelayOf = teacher => teacher == 1 ? TimeSpan.FromMilliseconds(360) : TimeSpan.Zero,
        };
        var result = RunDistill(scenario, new FlowSettings
        {
            Loaders = 2, TeacherWorkers = 3, CreditWindow = 6, LeaseTimeout = TimeSpan.FromMilliseconds(200),
        });

        AssertEachShardConsumedOnce(scenario);
        Assert.True(scenario.StudentCompleted);
        Assert.True(result.Shards.Reissued > 0, $"re-issued {result.Shards.Reissued}");
        Assert.True(Enumerable.Range(0, 24).Sum(scenario.InferCalls) > 24, "the slow teacher's shards were computed again elsewhere");
    }

    [Fact]
    public void A_shard_whose_teacher_always_throws_fails_the_stage_after_max_attempts()
    {
        var scenario = new FlowScenario(8) { TeacherFailure = (shard, _) => shard == 5 ? "CUDA error: device-side assert" : null };
        var failed = RunDistillFailing(scenario, new FlowSettings { TeacherWorkers = 2, MaxShardAttempts = 3 });

        Assert.Equal("mimic", failed.Stage);
        Assert.Contains("shard 5", failed.Error);
        Assert.Contains("3 attempts", failed.Error);
        Assert.Contains("CUDA error: device-side assert", failed.Error);
        // The teacher's exception comes along: its type and the teacher's frame, for the run's error log.
        Assert.Equal(typeof(InvalidOperationException).FullName, failed.Detail!.Type);
        Assert.Contains("CUDA error: device-side assert", failed.Detail.Text);
        Assert.Contains("FakeTeacher.Infer", failed.Detail.Text);
        Assert.Equal(3, scenario.InferCalls(5));
        Assert.DoesNotContain(5, scenario.Consumed);
        var last = new RunLedger(LedgerPath).ReadAll()[^1];
        Assert.Equal(RunLedgerStatus.Failed, last.Status);
        Assert.Contains("shard 5", last.Error);
        Assert.True(last.ShardsReissued >= 2);
        AwaitAssert(() => Assert.Equal(scenario.TeachersCreated, scenario.TeachersDisposed), Long);
    }

    [Fact]
    public void A_teacher_that_throws_once_is_retried_and_the_stage_completes()
    {
        var scenario = new FlowScenario(8) { TeacherFailure = (shard, call) => shard == 5 && call == 1 ? "transient" : null };
        var result = RunDistill(scenario, new FlowSettings { TeacherWorkers = 2 });

        AssertEachShardConsumedOnce(scenario);
        Assert.Equal(2, scenario.InferCalls(5));
        Assert.Equal(new ShardCounts(9, 1, 8), result.Shards);
    }

    [Fact]
    public void A_shard_that_fails_to_load_once_is_retried()
    {
        var scenario = new FlowScenario(6) { LoadFailure = (shard, call) => shard == 3 && call == 1 ? "read error" : null };
        var result = RunDistill(scenario, new FlowSettings());
        AssertEachShardConsumedOnce(scenario);
        Assert.Equal(new ShardCounts(7, 1, 6), result.Shards);
    }

    [Fact]
    public void A_shard_that_never_loads_fails_the_stage_naming_it()
    {
        var scenario = new FlowScenario(6) { LoadFailure = (shard, _) => shard == 4 ? "checksum mismatch in part-00004" : null };
        var failed = RunDistillFailing(scenario, new FlowSettings { MaxShardAttempts = 2 });
        Assert.Contains("shard 4", failed.Error);
        Assert.Contains("checksum mismatch in part-00004", failed.Error);
        Assert.Equal(2, scenario.LoadCalls(4));
    }

    [Fact]
    public void A_teacher_that_cannot_be_created_fails_the_stage()
    {
        var scenario = new FlowScenario(4) { CreateTeacherFailure = "checkpoint missing" };
        var failed = RunDistillFailing(scenario, new FlowSettings());
        Assert.Equal("mimic", failed.Stage);
        Assert.Contains("creating the teacher failed: checkpoint missing", failed.Error);
        Assert.Contains("FlowScenario.CreateTeacher", failed.Detail!.Text);
    }

    [Fact]
    public void A_student_that_cannot_be_created_fails_the_stage()
    {
        var scenario = new FlowScenario(4) { CreateStudentFailure = "bad student config" };
        var failed = RunDistillFailing(scenario, new FlowSettings());
        Assert.Contains("student", failed.Error);
        Assert.Contains("bad student config", failed.Error);
    }

    [Fact]
    public void A_student_step_that_throws_fails_the_stage_naming_the_shard()
    {
        var scenario = new FlowScenario(4) { ConsumeFailure = shard => shard == 2 ? "loss is NaN" : null };
        var failed = RunDistillFailing(scenario, new FlowSettings());
        Assert.Contains("consuming shard 2 failed: loss is NaN", failed.Error);
        Assert.Equal(typeof(InvalidOperationException).FullName, failed.Detail!.Type);
        Assert.Contains("FakeStudent.Consume", failed.Detail.Text);
        AwaitAssert(() => Assert.True(scenario.StudentDisposed), Long);
    }

    [Fact]
    public void A_source_that_cannot_be_opened_fails_the_stage()
    {
        var scenario = new FlowScenario(4) { CreateSourceFailure = "no such dataset /data/x" };
        var failed = RunDistillFailing(scenario, new FlowSettings());
        Assert.Contains("shard source", failed.Error);
        Assert.Contains("no such dataset /data/x", failed.Error);
        Assert.Equal(typeof(IOException).FullName, failed.Detail!.Type);
    }
}
