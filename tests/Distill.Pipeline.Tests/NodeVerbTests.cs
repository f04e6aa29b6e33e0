using Distill.Pipeline.Cli;
using Distill.Pipeline.Configuration;
using Distill.Pipeline.Runs;

namespace Distill.Pipeline.Tests;

public class NodeVerbTests
{

    [Fact]
    public async Task The_coordinator_runs_the_pipeline_on_the_cluster_runner_with_the_cluster_overlay()
    {
        using var h = new CliHarness();
        var code = await h.Run("node", "--role", "coordinator", "--preset", "tiny", "--run", "r1",
            "-D", "distill.cluster.teacher.workers=3");

        Assert.Equal(0, code);
        Assert.False(h.PipelineCalled);
        var c = h.Settings!.Cluster;
        Assert.Equal((1, 3, 4053), (c.TeacherLoaders, c.TeacherWorkers, c.CoordinatorPort)); // loaders from cluster.conf, workers from -D
        Assert.Equal(32, h.Settings.Data.ImageSize); // the preset is still there
        Assert.Contains("# cluster ", File.ReadAllText(h.Paths!.ResolvedConfig)); // the overlay is a recorded layer
    }

    [Theory]
    [InlineData(new[] { "node" }, "--role")]
    [InlineData(new[] { "node", "--role", "trainer" }, "trainer")]
    [InlineData(new[] { "node", "--role", "coordinator", "--seed", "akka.tcp://distill@127.0.0.1:4053" }, "--seed is for teacher nodes")]
    [InlineData(new[] { "node", "--role", "teacher", "--preset", "tiny" }, "a teacher node needs the coordinator's address: --seed akka.tcp://distill@HOST:4053")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "akka.tcp://other@127.0.0.1:4053" }, "names actor system 'other', expected 'distill'")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "127.0.0.1:4053" }, "--seed: '127.0.0.1:4053'")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "akka.tcp://distill@127.0.0.1:4053", "--index", "-1" }, "--index must be 0 or more")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "akka.tcp://distill@127.0.0.1:4053", "--index", "10",
        "-D", "distill.cluster.teacher.base-port=65530" }, "would listen on port 65540")]
    public async Task Bad_node_command_lines_exit_2_naming_the_problem_and_run_nothing(string[] args, string message)
    {
        using var h = new CliHarness();
        Assert.Equal(2, await h.Run(args));
        Assert.Contains(message, h.Err.ToString());
        Assert.Null(h.Settings);
        Assert.False(h.PipelineCalled);
    }
}
