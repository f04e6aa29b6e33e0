using Akka.Actor;
using Akka.Configuration;
using Distill.Actors.Messages;
using Distill.Actors.Supervision;
using Distill.Stages.Flow;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

/// <summary>TestKit with the Distill HOCON and every message serialized on the way (serialize-messages = on).</summary>
public abstract class ActorTestBase : Akka.TestKit.Xunit2.TestKit
{
    public static readonly Config TestConfig = ConfigurationFactory.ParseString("""
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        akka.actor.serialize-messages = on
        akka.actor.serialize-creators = off
        akka.test.single-expect-default = 10s
        """).WithFallback(DistillActorsConfig.Config);

    protected static readonly TimeSpan Long = TimeSpan.FromSeconds(20);

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "distill-actors-tests", Guid.NewGuid().ToString("N"));

    protected ActorTestBase(ITestOutputHelper output) : base(TestConfig, output: output)
    {
        Directory.CreateDirectory(_folder);
    }

    private int _runs;

    protected string LedgerPath => Path.Combine(_folder, "ledger.jsonl");

    /// <summary>Runs <paramref name="stages"/> under a supervisor and returns its answer.</summary>
    protected object RunStages(IReadOnlyList<StageDefinition> stages, FlowSettings? settings = null,
        IStageProgress? progress = null, string? ledgerPath = null)
    {
        // A name of its own each time: the guardian frees a stopped child's name after its watchers hear of the end,
        // so a second run right after the first could find "sup" still reserved.
        var supervisor = Sys.ActorOf(PipelineSupervisor.Props(stages, settings ?? new FlowSettings(),
            ledgerPath ?? LedgerPath, progress ?? NullStageProgress.Instance), $"sup-{++_runs}");
        supervisor.Tell(RunPipeline.Instance, TestActor);
        var answer = ExpectMsg<object>(m => m is PipelineCompleted or PipelineFailed, Long);
        Watch(supervisor);
        Sys.Stop(supervisor);
        ExpectTerminated(supervisor, Long);
        return answer;
    }

    protected PipelineCompleted RunOk(IReadOnlyList<StageDefinition> stages, FlowSettings? settings = null,
        IStageProgress? progress = null)
    {
        var answer = RunStages(stages, settings, progress);
        if (answer is PipelineFailed failed)
            throw new Xunit.Sdk.XunitException($"pipeline failed at {failed.Stage}: {failed.Error}");
        return (PipelineCompleted)answer;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
