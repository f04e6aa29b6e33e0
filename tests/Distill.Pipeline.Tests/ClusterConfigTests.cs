using Distill.Actors.Cluster;
using Distill.Pipeline.Cluster;
using Distill.Pipeline.Configuration;

namespace Distill.Pipeline.Tests;

public class ClusterConfigTests
{
    private static LoadedConfiguration Cluster(params string[] defines) =>
        ConfigLoader.Load(new ConfigSources { Preset = "tiny", Overrides = defines, ClusterOverlay = true });

    [Fact]
    public void The_cluster_overlay_sets_the_per_node_parallelism_and_minus_d_overrides_it()
    {
        var single = Cfg.Load("tiny").Settings.Cluster;
        Assert.Equal(2, single.TeacherLoaders); // pipeline.conf

        var overlay = Cluster();
        var c = overlay.Settings.Cluster;
        Assert.Equal(("127.0.0.1", "", 4053, 4, 0, 1, 1), (c.Host, c.Seed, c.CoordinatorPort, c.CreditWindow, c.TeacherBasePort, c.TeacherLoaders, c.TeacherWorkers));
        Assert.Equal((TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(5)),
            (c.TeacherWait, c.JoinTimeout, c.HeartbeatPause, c.DownAfter));
        Assert.StartsWith("cluster ", overlay.SourceOf("distill.cluster.teacher.loaders"));
        Assert.Contains(overlay.Layers, l => l.StartsWith("cluster ", StringComparison.Ordinal));

        var overridden = Cluster("distill.cluster.teacher.workers=3", "distill.cluster.seed=akka.tcp://distill@10.0.0.5:4053").Settings.Cluster;
        Assert.Equal(3, overridden.TeacherWorkers);
        Assert.Equal("akka.tcp://distill@10.0.0.5:4053", overridden.Seed);
    }

    [Theory]
    [InlineData("distill.cluster.seed=\"http://10.0.0.5:4053\"", "distill.cluster.seed: 'http://10.0.0.5:4053' uses protocol 'http', expected akka.tcp")]
    [InlineData("distill.cluster.seed=\"akka.tcp://distill@10.0.0.5\"", "distill.cluster.seed: 'akka.tcp://distill@10.0.0.5' needs a host and a port")]
    [InlineData("distill.cluster.host=\"0.0.0.0\"", "distill.cluster.host: '0.0.0.0' binds every interface")]
    [InlineData("distill.cluster.host=\"\"", "distill.cluster.host")]
    [InlineData("distill.cluster.teacher.base-port=4053", "distill.cluster.teacher.base-port (4053) must differ from distill.cluster.coordinator.port (4053)")]
    [InlineData("distill.cluster.teacher.loaders=0", "distill.cluster.teacher.loaders")]
    [InlineData("distill.cluster.coordinator.port=70000", "distill.cluster.coordinator.port")]
    [InlineData("distill.cluster.down-after=0", "distill.cluster.down-after")]
    [InlineData("distill.cluster.teachers=2", "unknown key distill.cluster.teachers")]
    public void Bad_cluster_values_are_errors_naming_the_key(string define, string message)
    {
        var e = Assert.Throws<ConfigurationErrorException>(() => Cluster(define));
        Assert.Contains(e.Errors, m => m.Contains(message, StringComparison.Ordinal));
    }

    [Fact]
    public void The_frame_size_is_above_the_batch_limit_on_every_node()
    {
        var max = Cfg.Load("tiny").Settings.Transport.MaxBatchBytes;
        var config = ClusterNodeConfig.Build(new ClusterNodeOptions { MaxBatchBytes = max });
        var frame = config.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size");
        Assert.Equal(max + ClusterNodeConfig.FrameHeadroom, frame);
        Assert.Equal(frame, config.GetByteSize("akka.remote.dot-netty.tcp.send-buffer-size"));
        Assert.Equal(frame, config.GetByteSize("akka.remote.dot-netty.tcp.receive-buffer-size"));
        Assert.Equal("keep-oldest", config.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal("127.0.0.1", config.GetString("akka.remote.dot-netty.tcp.hostname"));
    }

    [Theory]
    [InlineData("akka.tcp://distill@127.0.0.1:4053", null)]
    [InlineData("akka.tcp://distill@machine-2.lan:9000", null)]
    [InlineData("akka.tcp://distill@127.0.0.1:0", "needs a host and a port")]
    [InlineData("distill@127.0.0.1:4053", "is not an address like akka.tcp://distill@HOST:4053")]
    public void Seed_addresses(string text, string? problem)
    {
        var found = ClusterAddress.Check(text);
        if (problem is null) Assert.Null(found);
        else Assert.Contains(problem, found);
    }
}
