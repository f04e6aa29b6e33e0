using Distill.Actors.Cluster;
using Distill.Actors.Messages;
using Xunit;
using Xunit.Abstractions;

namespace Distill.Actors.Tests;

public sealed class TeacherWaitTests(ITestOutputHelper output) : ActorTestBase(output)
{
    [Fact]
    public void A_cluster_stage_without_teacher_nodes_fails_after_the_teacher_wait_and_starts_no_local_teacher()
    {
        var scenario = new FlowScenario(4);
        var registry = Sys.ActorOf(TeacherNodeRegistry.Props("/runs/x"), TeacherNodeRegistry.Name);
        var settings = new FlowSettings { TeacherNodes = registry, TeacherWait = TimeSpan.FromMilliseconds(300) };

        var failed = Assert.IsType<PipelineFailed>(RunStages([scenario.Stage()], settings));
        Assert.Equal("mimic", failed.Stage);
        Assert.StartsWith("no teacher worker for 0.3 s (0 teacher node(s) were opened)", failed.Error);
        Assert.Equal(0, scenario.TeachersCreated);
        Assert.Empty(scenario.Consumed);
    }
}
