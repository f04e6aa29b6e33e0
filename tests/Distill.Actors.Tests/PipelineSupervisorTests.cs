using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Akka.Actor;
using Distill.Actors.Messages;
using Distill.Actors.Supervision;
using Distill.Stages.Flow;
using Distill.Stages.Runs;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class PipelineSupervisorTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private readonly ConcurrentQueue<string> _ran = new();

    private ComputeStage Compute(string name, string? checkpoint = null, Action? body = null) =>
        new(name, (progress, _) =>
        {
            _ran.Enqueue(name);
            body?.Invoke();
            progress.Report(new StageProgress(name, "run", 1, 1, 0, 0));
            return new StageOutcome(checkpoint ?? $"/ckpt/{name}", new Dictionary<string, double> { ["figure"] = name.Length });
        });

    private IReadOnlyList<(string Stage, RunLedgerStatus Status)> LedgerLines() =>
        new RunLedger(LedgerPath).ReadAll().Select(e => (e.Stage, e.Status)).ToList();

    [Fact]
    public void Runs_stages_in_order_and_writes_the_ledger()
    {
        var progress = new RecordingProgress();
        var done = RunOk([Compute("teacher"), Compute("mimic"), Compute("eval")], progress: progress);

        Assert.Equal(["teacher", "mimic", "eval"], _ran.ToArray());
        Assert.Equal(["teacher", "mimic", "eval"], done.Stages.Select(s => s.Stage).ToArray());
        Assert.All(done.Stages, s => Assert.Equal(StageStatus.Completed, s.Status));
        Assert.Equal("/ckpt/mimic", done.Stages[1].Outcome.Checkpoint);
        Assert.Equal(5, done.Stages[1].Outcome.Figures["figure"]);
        Assert.Equal(ShardCounts.None, done.Stages[0].Shards);
        Assert.Equal(
        [
            ("teacher", RunLedgerStatus.Started), ("teacher", RunLedgerStatus.Completed),
            ("mimic", RunLedgerStatus.Started), ("mimic", RunLedgerStatus.Completed),
            ("eval", RunLedgerStatus.Started), ("eval", RunLedgerStatus.Completed),
        ], LedgerLines());
        var completed = new RunLedger(LedgerPath).ReadAll()[3];
        Assert.Equal("/ckpt/mimic", completed.Checkpoint);
        Assert.True(completed.WallSeconds >= 0);
        Assert.Equal(3, progress.Reports.Count);
    }

    [Fact]
    public void A_completed_stage_in_the_ledger_is_skipped_with_its_recorded_outcome()
    {
        new RunLedger(LedgerPath).Append(new RunLedgerEntry("teacher", RunLedgerStatus.Completed, DateTime.UtcNow,
            12.5, Checkpoint: "/old/teacher", Figures: new Dictionary<string, double> { ["acc"] = 0.9 }));

        var done = RunOk([Compute("teacher"), Compute("mimic")]);

        Assert.Equal(["mimic"], _ran.ToArray());
        Assert.Equal(StageStatus.Skipped, done.Stages[0].Status);
        Assert.Equal("/old/teacher", done.Stages[0].Outcome.Checkpoint);
        Assert.Equal(0.9, done.Stages[0].Outcome.Figures["acc"]);
        Assert.Equal(12.5, done.Stages[0].WallSeconds);
        Assert.Equal(StageStatus.Completed, done.Stages[1].Status);
        Assert.Equal(
        [
            ("teacher", RunLedgerStatus.Completed), ("teacher", RunLedgerStatus.Skipped),
            ("mimic", RunLedgerStatus.Started), ("mimic", RunLedgerStatus.Completed),
        ], LedgerLines());
    }

    [Fact]
    public void Stages_after_one_that_runs_again_run_again_too()
    {
        var ledger = new RunLedger(LedgerPath);
        ledger.Append(new RunLedgerEntry("teacher", RunLedgerStatus.Completed, DateTime.UtcNow));
        ledger.Append(new RunLedgerEntry("mimic", RunLedgerStatus.Failed, DateTime.UtcNow, Error: "x"));
        ledger.Append(new RunLedgerEntry("eval", RunLedgerStatus.Completed, DateTime.UtcNow));

        RunOk([Compute("teacher"), Compute("mimic"), Compute("eval")]);

        Assert.Equal(["mimic", "eval"], _ran.ToArray());
    }

    [Fact]
    public void A_failing_compute_stage_fails_the_pipeline_and_later_stages_do_not_run()
    {
        var answer = RunStages([Compute("teacher"), Compute("mimic", body: () => throw new InvalidOperationException("out of memory")), Compute("eval")]);

        var failed = Assert.IsType<PipelineFailed>(answer);
        Assert.Equal("mimic", failed.Stage);
        Assert.Contains("out of memory", failed.Error);
        Assert.Equal(["teacher"], failed.Stages.Select(s => s.Stage).ToArray());
        Assert.Equal(["teacher", "mimic"], _ran.ToArray());
        Assert.Equal(
        [
            ("teacher", RunLedgerStatus.Started), ("teacher", RunLedgerStatus.Completed),
            ("mimic", RunLedgerStatus.Started), ("mimic", RunLedgerStatus.Failed),
        ], LedgerLines());
        Assert.Contains("out of memory", new RunLedger(LedgerPath).ReadAll()[3].Error);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowFromDeepInside() => throw new InvalidOperationException("out of memory",
        new IOException("swap is full"));

    [Fact]
    public void A_failing_compute_stage_answers_with_the_whole_exception_and_the_ledger_keeps_one_line()
    {
        var failed = Assert.IsType<PipelineFailed>(RunStages([Compute("mimic", body: ThrowFromDeepInside)]));

        Assert.Equal("out of memory", failed.Error);
        Assert.Equal(typeof(InvalidOperationException).FullName, failed.Detail!.Type);
        Assert.Contains("out of memory", failed.Detail.Text);
        Assert.Contains(nameof(ThrowFromDeepInside), failed.Detail.Text);                // the stack
        Assert.Contains("System.IO.IOException: swap is full", failed.Detail.Text);     // the inner exception
        Assert.Equal("out of memory", new RunLedger(LedgerPath).ReadAll()[^1].Error);
    }

    [Fact]
    public void A_native_error_keeps_libtorchs_text_in_the_message_and_its_backtrace_in_the_detail()
    {
        const string native = "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1\n" +
                              "Exception raised from infer_size_impl at /pytorch/aten/src/ATen/ExpandUtils.cpp:31 (most recent call first):\n" +
                              "frame #0: c10::Error::Error(...)";
        var failed = Assert.IsType<PipelineFailed>(RunStages([Compute("mod", body: () => throw new ExternalException(native))]));

        Assert.Equal("libtorch: The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1", failed.Error);
        Assert.Equal(typeof(ExternalException).FullName, failed.Detail!.Type);
        Assert.Contains("frame #0: c10::Error::Error(...)", failed.Detail.Text);
        Assert.Equal(failed.Error, new RunLedger(LedgerPath).ReadAll()[^1].Error);
    }

    [Fact]
    public void A_failed_stage_runs_again_on_resume()
    {
        var fail = true;
        var stages = new StageDefinition[] { Compute("teacher"), Compute("mimic", body: () => { if (fail) throw new IOException("disk"); }) };
        Assert.IsType<PipelineFailed>(RunStages(stages));
        fail = false;
        var done = RunOk(stages);
        Assert.Equal([StageStatus.Skipped, StageStatus.Completed], done.Stages.Select(s => s.Status).ToArray());
        Assert.Equal(["teacher", "mimic", "mimic"], _ran.ToArray());
    }

    [Fact]
    public void Duplicate_stage_names_are_refused()
    {
        var failed = Assert.IsType<PipelineFailed>(RunStages([Compute("a"), Compute("a")]));
        Assert.Equal(PipelineSupervisor.PipelineStageName, failed.Stage);
        Assert.Contains("unique", failed.Error);
        Assert.Empty(_ran);
    }

    [Fact]
    public void An_unreadable_ledger_fails_the_pipeline_naming_it()
    {
        Directory.CreateDirectory(Path.GetDirectoryName(LedgerPath)!);
        File.WriteAllText(LedgerPath, "garbage\n");
        var failed = Assert.IsType<PipelineFailed>(RunStages([Compute("a")]));
        Assert.Contains(LedgerPath, failed.Error);
        Assert.Empty(_ran);
    }

    [Fact]
    public void A_second_run_request_while_running_is_refused()
    {
        using var gate = new ManualResetEventSlim();
        var supervisor = Sys.ActorOf(PipelineSupervisor.Props([Compute("slow", body: () => gate.Wait(Long))],
            new FlowSettings(), LedgerPath, NullStageProgress.Instance));
        supervisor.Tell(RunPipeline.Instance, TestActor);
        AwaitCondition(() => _ran.Count == 1, Long);
        var probe = CreateTestProbe();
        supervisor.Tell(RunPipeline.Instance, probe);
        Assert.Contains("already in progress", probe.ExpectMsg<PipelineFailed>().Error);
        gate.Set();
        ExpectMsg<PipelineCompleted>(Long);
    }

    [Fact]
    public void Cancelling_the_runner_cancels_the_stage_and_records_it()
    {
        using var cts = new CancellationTokenSource();
        var started = new ManualResetEventSlim();
        var stage = new ComputeStage("teacher", (_, token) =>
        {
            started.Set();
            token.WaitHandle.WaitOne(Long);
            token.ThrowIfCancellationRequested();
            return StageOutcome.Empty;
        });
        var run = PipelineRunner.RunAsync(Sys, [stage], new FlowSettings(), LedgerPath, null, cts.Token);
        Assert.True(started.Wait(Long));
        cts.Cancel();
        var cancelled = Assert.Throws<PipelineCancelledException>(() => run.GetAwaiter().GetResult());
        Assert.Equal("teacher", cancelled.Stage);
        var last = new RunLedger(LedgerPath).ReadAll()[^1];
        Assert.Equal(RunLedgerStatus.Failed, last.Status);
        Assert.Equal("cancelled", last.Error);
    }

    [Fact]
    public async Task PipelineRunner_returns_the_result()
    {
        var ok = await PipelineRunner.RunAsync(Sys, [Compute("teacher")], new FlowSettings(), LedgerPath);
        Assert.True(ok.Succeeded);
        Assert.Equal("teacher", Assert.Single(ok.Stages).Stage);

        var bad = await PipelineRunner.RunAsync(Sys, [Compute("teacher"), Compute("eval", body: () => throw new InvalidOperationException("no split"))],
            new FlowSettings(), LedgerPath);
        Assert.False(bad.Succeeded);
        Assert.Equal("eval", bad.FailedStage);
        Assert.Contains("no split", bad.Error);
        Assert.Contains("no split", bad.Detail!.Text);
        Assert.Equal(StageStatus.Skipped, Assert.Single(bad.Stages).Status);
    }

    [Fact]
    public void The_stage_actor_is_stopped_after_its_stage()
    {
        var scenario = new FlowScenario(4);
        RunOk([Compute("teacher"), scenario.Stage("mimic"), Compute("eval")], new FlowSettings { TeacherWorkers = 2 });
        // The teacher replicas of the distill stage were disposed when its actors stopped, before the next stage.
        Assert.Equal(["teacher", "eval"], _ran.ToArray());
        Assert.Equal(2, scenario.TeachersCreated);
        AwaitAssert(() => Assert.Equal(2, scenario.TeachersDisposed), Long);
        AwaitAssert(() => Assert.True(scenario.StudentDisposed), Long);
    }

    [Fact]
    public void Compute_actors_run_on_the_pinned_compute_dispatcher()
    {
        var dispatcher = Sys.Dispatchers.Lookup(DistillActorsConfig.ComputeDispatcher);
        Assert.IsType<Akka.Dispatch.PinnedDispatcher>(dispatcher);
        var stage = new ComputeStage("x", (_, _) => StageOutcome.Empty);
        Assert.Equal(DistillActorsConfig.ComputeDispatcher,
            ComputeStageRunner.Props(stage, NullStageProgress.Instance, default).Dispatcher);
        var scenario = new FlowScenario(1);
        Assert.Equal(DistillActorsConfig.ComputeDispatcher,
            Flow.TeacherWorker.Props(scenario.CreateTeacher, ActorRefs.Nobody, ActorRefs.Nobody, 1).Dispatcher);
        Assert.Equal(DistillActorsConfig.ComputeDispatcher,
            Flow.StudentHost.Props(scenario.CreateStudent, NullStageProgress.Instance, default).Dispatcher);
        Assert.Equal(DistillActorsConfig.ComputeDispatcher,
            Flow.ShardLoader.Props(new Lazy<IShardSource>(scenario.CreateSource), ActorRefs.Nobody).Dispatcher);
    }
}
