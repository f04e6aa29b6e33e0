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
    [InlineData(new[] { "node", "--role", "coordinator", "--seed", "akka.ssl.tcp://distill@127.0.0.1:4053" }, "--seed is for teacher nodes")]
    [InlineData(new[] { "node", "--role", "teacher", "--preset", "tiny" }, "a teacher node needs the coordinator's address: --seed akka.ssl.tcp://distill@HOST:4053")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "akka.ssl.tcp://other@127.0.0.1:4053" }, "names actor system 'other', expected 'distill'")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "127.0.0.1:4053" }, "--seed: '127.0.0.1:4053'")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "akka.ssl.tcp://distill@127.0.0.1:4053", "--index", "-1" }, "--index must be 0 or more")]
    [InlineData(new[] { "node", "--role", "teacher", "--seed", "akka.ssl.tcp://distill@127.0.0.1:4053", "--index", "10",
        "-D", "distill.cluster.teacher.base-port=65530" }, "would listen on port 65540")]
    public async Task Bad_node_command_lines_exit_2_naming_the_problem_and_run_nothing(string[] args, string message)
    {
        using var h = new CliHarness();
        Assert.Equal(2, await h.Run(args));
        Assert.Contains(message, h.Err.ToString());
        Assert.Null(h.Settings);
        Assert.False(h.PipelineCalled);
    }

    [Fact]
    public async Task A_teacher_node_on_loopback_needs_the_runs_throwaway_ca_or_certificates_and_a_plain_seed_needs_insecure()
    {
        using var h = new CliHarness();
        string[] node = ["node", "--role", "teacher", "--preset", "tiny"];
        const string seed = "akka.ssl.tcp://distill@127.0.0.1:4053";

        Assert.Equal(2, await h.Run([.. node, "--seed", seed]));
        Assert.Contains("teacher node 0: on a loopback host without distill.cluster.tls.certificate a node uses the run's throwaway certificates", h.Err.ToString());
        Assert.Contains("give --run", h.Err.ToString());

        var run = Directory.CreateDirectory(Path.Combine(h.Dir.Path, "run")).FullName;
        h.Err.GetStringBuilder().Clear();
        Assert.Equal(2, await h.Run([.. node, "--seed", seed, "--run", run, "--index", "1"]));
        Assert.Contains($"teacher node 1: {Path.Combine(run, "cluster", "tls", "ca.crt")} and", h.Err.ToString());
        Assert.Contains("the coordinator makes the run's throwaway CA", h.Err.ToString());
        Assert.False(Directory.Exists(Path.Combine(run, "cluster")));

        h.Err.GetStringBuilder().Clear();
        Assert.Equal(2, await h.Run([.. node, "--seed", "akka.tcp://distill@127.0.0.1:4053", "--run", run]));
        Assert.Contains("--seed: 'akka.tcp://distill@127.0.0.1:4053' is a plain-TCP address (akka.tcp) but this cluster uses TLS", h.Err.ToString());
        Assert.False(h.PipelineCalled);
    }

    [Fact]
    public async Task An_insecure_teacher_node_warns_on_stderr_and_runs_without_tls()
    {
        using var h = new CliHarness();
        // Nothing listens on the seed's port: the node gives up joining after a second.
        var code = await h.Run("node", "--role", "teacher", "--preset", "tiny", "--seed", "akka.tcp://distill@127.0.0.1:9",
            "-D", "distill.cluster.insecure=true", "-D", "distill.cluster.join-timeout=1");

        Assert.Equal(1, code);
        Assert.Contains("distill: WARNING: distill.cluster.insecure = true: the cluster transport on 127.0.0.1 has no TLS", h.Err.ToString());
        Assert.Contains("at akka.tcp://distill@127.0.0.1:", h.Out.ToString()); // its own address: plain TCP
    }
}
