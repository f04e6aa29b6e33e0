using System.Diagnostics;
using Distill.Stages.Runs;
using Xunit.Abstractions;

namespace Distill.Pipeline.Tests;

/// <summary>A fact that needs network namespaces (root, <c>ip netns</c>): skipped, saying why, where none can be made.</summary>
public sealed class NetnsFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> Unavailable = new(() =>
    {
        if (!Environment.IsPrivilegedProcess) return "not running as root";
        var name = $"distill-probe-{Environment.ProcessId}";
        var (code, err) = NetnsClusterTests.Run("ip", "netns", "add", name);
        if (code != 0) return $"ip netns add failed: {err}";
        NetnsClusterTests.Run("ip", "netns", "del", name);
        return null;
    });

    public NetnsFactAttribute()
    {
        if (Unavailable.Value is { } why) Skip = $"needs network namespaces for a two-host cluster: {why}";
    }
}

/// <summary><c>scripts/netns-cluster.sh</c>: the coordinator and a teacher node in two network namespaces joined by a
/// veth pair, over the veth addresses with mutual TLS, the run directory shared through the file system.</summary>
public sealed class NetnsClusterTests(ITestOutputHelper output)
{
    internal static (int Code, string Output) Run(string file, params string[] args)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Repo.Root() };
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["DISTILL_NETNS_PREFIX"] = $"dt{Environment.ProcessId % 100000}";
        start.Environment["DISTILL_NETNS_SUBNET"] = $"10.232.{Environment.ProcessId % 250}";
        using var p = Process.Start(start)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(5))) { p.Kill(entireProcessTree: true); throw new TimeoutException($"{file} {string.Join(" ", args)} did not end in 5 minutes"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    [NetnsFact]
    public void A_coordinator_and_a_teacher_node_in_two_network_namespaces_run_the_pipeline_over_tls()
    {
        using var dir = new TempDir();
        var runDir = Path.Combine(dir.Path, "run");
        var subnet = $"10.232.{Environment.ProcessId % 250}";
        var (code, text) = Run("bash", Path.Combine(Repo.Root(), "scripts", "netns-cluster.sh"), "run", runDir, "--preset", "tiny",
            "-D", "distill.data.train-scenes=24", "-D", "distill.data.val-scenes=8", "-D", "distill.data.test-scenes=8");
        output.WriteLine(text);

        Assert.True(code == 0, $"netns-cluster.sh exited {code}:\n{text}");
        Assert.Contains($"coordinator at akka.ssl.tcp://distill@{subnet}.1:", text);                 // TLS, on the veth address
        var teacherLog = File.ReadAllText(Path.Combine(runDir, "logs", "node-teacher-0.log"));
        Assert.Contains($"akka.ssl.tcp://distill@{subnet}.2:", teacherLog);
        Assert.Contains("Inferring shard", teacherLog);                                                // the other host did the teacher work
        var mimic = new RunLedger(Path.Combine(runDir, "ledger.jsonl")).ReadAll().Single(e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
        Assert.True(mimic.ShardsConsumed > 0);
        Assert.True(File.Exists(Path.Combine(runDir, "report.md")));
        Assert.DoesNotContain($"dt{Environment.ProcessId % 100000}-coord", Run("ip", "netns", "list").Output); // torn down
    }
}
