using System.Diagnostics;
using System.Text;
using Distill.Stages.Runs;
using Xunit.Abstractions;

namespace Distill.Pipeline.Tests;

/// <summary><c>./run.sh cluster</c> end to end: a coordinator and teacher node processes on loopback ports, driven
/// through run.sh with the existing Release build (DISTILL_NO_BUILD=1).</summary>
public sealed class ClusterRunTests(ITestOutputHelper output)
{
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(4);

    /// <summary>A smaller dataset in shards of 4 samples: 28 shards in a distillation stage, so a node always holds leases.</summary>
    private static readonly string[] ManyShards =
        ["-D", "distill.data.train-scenes=48", "-D", "distill.data.val-scenes=8", "-D", "distill.data.test-scenes=8", "-D", "distill.parallelism.shard-size=4"];

    private static string RepoRoot() => Repo.Root();

    /// <summary>run.sh cluster with its output collected; the tiny preset on a smaller dataset, shards of 4 samples
    /// (many shards, so a teacher node always holds leases while it works), a credit window above the shard count,
    /// and faster downing (a heartbeat pause of 5 s, not less: this machine is often loaded far beyond its cores).</summary>
    private sealed class ClusterRun : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();

        public ClusterRun(string runDir, int teachers, params string[] extra)
        {
            RunDir = runDir;
            // Through env --default-signal=INT: a test host started in the background (bash's `cmd &`) ignores SIGINT,
            // every child inherits that, and bash cannot trap a signal ignored at its start, so Ctrl-C would be lost.
            var start = new ProcessStartInfo("env")
            {
                WorkingDirectory = RepoRoot(),
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var arg in (string[])["--default-signal=INT", "bash", Path.Combine(RepoRoot(), "run.sh"), "cluster", "--teachers", teachers.ToString(), "--preset", "tiny",
                         "--run", runDir, "-D", "distill.cluster.coordinator.port=0", .. extra])
                start.ArgumentList.Add(arg);
            start.Environment["DISTILL_NO_BUILD"] = "1";
            // Every inference takes at least 400 ms, so the node the test kills when it logs "Inferring shard" still
            // holds that lease (and its prefetched one): the kill must be seen and the leases re-issued.
            start.Environment["DISTILL_FAULT_TEACHER_DELAY_MS"] = "400";
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.AppendLine(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string RunDir { get; }
        public int Pid => _process.Id;
        public bool HasExited => _process.HasExited;

        public string Output
        {
            get { lock (_output) return _output.ToString(); }
        }

        public string Log(string node) => Path.Combine(RunDir, "logs", $"node-{node}.log");
        public string PidFile(string node) => Path.Combine(RunDir, "cluster", $"node-{node}.pid");

        /// <summary>Waits until <paramref name="condition"/> holds; fails with run.sh's output when run.sh ends first.</summary>
        public void WaitFor(string what, Func<bool> condition)
        {
            var clock = Stopwatch.StartNew();
            while (!condition())
            {
                if (_process.HasExited) throw new Xunit.Sdk.XunitException($"run.sh exited ({_process.ExitCode}) before {what}:\n{Output}");
                if (clock.Elapsed > RunLimit) throw new Xunit.Sdk.XunitException($"timed out waiting for {what}:\n{Output}");
                Thread.Sleep(50);
            }
        }

        public int WaitForExit()
        {
            if (!_process.WaitForExit(RunLimit))
                throw new Xunit.Sdk.XunitException($"run.sh did not end within {RunLimit}:\n{Output}");
            // Drains the output; bounded, should anything still hold run.sh's stdout open.
            if (!Task.Run(_process.WaitForExit).Wait(TimeSpan.FromSeconds(30)))
                throw new Xunit.Sdk.XunitException($"run.sh's output stayed open after it exited:\n{Output}");
            return _process.ExitCode;
        }

        /// <summary>Process ids of every node run.sh started.</summary>
        public IReadOnlyList<int> NodePids() =>
            Directory.GetFiles(Path.Combine(RunDir, "cluster"), "node-*.pid").Select(f => int.Parse(File.ReadAllText(f).Trim())).ToList();

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }

    private static bool Running(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path)) return "";
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return new StreamReader(stream).ReadToEnd();
    }

    [Fact]
    public void A_cluster_run_completes_with_a_teacher_node_killed_mid_stage_and_every_shard_consumed_once()
    {
        using var dir = new TempDir();
        using var run = new ClusterRun(Path.Combine(dir.Path, "run"), teachers: 2,
            [.. ManyShards, "-D", "distill.cluster.coordinator.credit-window=64",
            "-D", "distill.cluster.heartbeat-pause=5", "-D", "distill.cluster.down-after=2"]);

        // Teacher node 0 works on the distillation stage: it holds a lease (one shard inferring, one prefetched).
        run.WaitFor("teacher node 0 inferring a shard", () => ReadShared(run.Log("teacher-0")).Contains("Inferring shard"));
        var killed = int.Parse(File.ReadAllText(run.PidFile("teacher-0")).Trim());
        using (var node = Process.GetProcessById(killed)) node.Kill(); // SIGKILL
        var exit = run.WaitForExit();
        output.WriteLine(run.Output);

        Assert.True(exit == 0, $"run.sh exited {exit}:\n{run.Output}");
        var mimic = new RunLedger(Path.Combine(run.RunDir, "ledger.jsonl")).ReadAll()
            .Single(e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
        // 96 training and 16 held-out samples in shards of 4.
        var shards = (int)(Math.Ceiling(mimic.Figures!["train_samples"] / 4) + Math.Ceiling(mimic.Figures["heldout_samples"] / 4));
        Assert.Equal(28, shards);
        output.WriteLine($"mimic ledger after killing teacher node 0 (pid {killed}): {mimic.ShardsIssued} issued, " +
            $"{mimic.ShardsReissued} re-issued, {mimic.ShardsConsumed} consumed of {shards} shards");
        Assert.Equal(shards, mimic.ShardsConsumed);
        Assert.True(mimic.ShardsReissued >= 1, $"no shard was re-issued: {mimic}");
        Assert.Equal(shards + mimic.ShardsReissued, mimic.ShardsIssued); // each shard issued once plus its re-issues
        Assert.Contains("go back to the queue", ReadShared(run.Log("coordinator-0")));
        Assert.Contains("Inferring shard", ReadShared(run.Log("teacher-1")));
        Assert.True(File.Exists(Path.Combine(run.RunDir, "report.md")));

        // Nothing is left behind.
        Assert.Equal(3, run.NodePids().Count);
        Assert.DoesNotContain(run.NodePids(), Running);
    }

    /// <summary>A process run the way run.sh runs a node: <c>dotnet distill.dll ARGS</c> from the repository root,
    /// with the same Release build; its output and exit code.</summary>
    private static (int Exit, string Output) RunNode(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = RepoRoot(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var arg in (string[])[Path.Combine(RepoRoot(), "Pipeline", "bin", "Release", "net10.0", "distill.dll"), .. args])
            start.ArgumentList.Add(arg);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(RunLimit))
        {
            process.Kill(entireProcessTree: true);
            throw new Xunit.Sdk.XunitException($"distill {string.Join(' ', args)} did not end within {RunLimit}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [Fact]
    public void A_cluster_run_is_tls_with_the_runs_throwaway_certificates_and_a_node_with_a_strangers_certificate_cannot_join_while_the_run_goes_on()
    {
        using var dir = new TempDir();
        using var run = new ClusterRun(Path.Combine(dir.Path, "run"), teachers: 1,
            ManyShards);
        run.WaitFor("teacher node 0 registered", () => ReadShared(run.Log("teacher-0")).Contains("Registered with the coordinator"));

        var seed = File.ReadAllText(Path.Combine(run.RunDir, "cluster", "seed")).Trim();
        Assert.StartsWith("akka.ssl.tcp://distill@127.0.0.1:", seed);
        var tls = Path.Combine(run.RunDir, "cluster", "tls");
        Assert.Equal(["ca.crt", "ca.key", "node-coordinator-0.p12", "node-teacher-0.p12"],
            Directory.GetFiles(tls).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        // An intruder: a teacher node with a certificate of its own CA, pointed at the run's coordinator.
        using var strangerCa = Distill.Pipeline.Cluster.ClusterCertificates.CreateAuthority("stranger CA");
        using var strangerNode = Distill.Pipeline.Cluster.ClusterCertificates.CreateNode(strangerCa, "teacher-9", ["127.0.0.1"]);
        var caFile = dir.File("stranger-ca.crt", strangerCa.ExportCertificatePem());
        var nodeFile = Path.Combine(dir.Path, "stranger.p12");
        File.WriteAllBytes(nodeFile, strangerNode.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));
        var (exit, intruder) = RunNode("node", "--role", "teacher", "--preset", "tiny", "--seed", seed, "--index", "9",
            "-D", $"distill.cluster.tls.ca={caFile}", "-D", $"distill.cluster.tls.certificate={nodeFile}",
            "-D", "distill.cluster.join-timeout=3");
        output.WriteLine($"intruder (exit {exit}):\n{intruder}");
        Assert.Equal(1, exit);
        // It refuses the coordinator's certificate as the coordinator refuses its own; Akka.Remote then stops it.
        Assert.Contains("is not signed by the cluster's CA 'CN=stranger CA'", intruder);
        Assert.Contains("teacher node 9: the TLS handshake with the coordinator failed and Akka.Remote stopped the node", intruder);
        Assert.Contains("due to TLS handshake failure", ReadShared(run.Log("coordinator-0")));

        // The run goes on and completes on its own teacher node.
        var code = run.WaitForExit();
        output.WriteLine(run.Output);
        Assert.True(code == 0, $"run.sh exited {code}:\n{run.Output}");
        Assert.Contains(new RunLedger(Path.Combine(run.RunDir, "ledger.jsonl")).ReadAll(), e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
        Assert.DoesNotContain("teacher node 9", ReadShared(run.Log("coordinator-0")));
        Assert.Contains("TLS, mutual authentication", File.ReadAllText(Path.Combine(run.RunDir, "report.md")));
    }

    [Fact]
    public void A_coordinator_killed_mid_stage_leaves_no_node_behind_and_the_same_command_resumes_the_run()
    {
        // Fault drill (issue 15, item 6): SIGKILL the coordinator while mimic's batches stream in, then start the same
        // command on the same run directory: the teacher stage is not run again and mimic reuses the cached parts.
        using var dir = new TempDir();
        var runDir = Path.Combine(dir.Path, "run");
        string[] settings = [.. ManyShards, "-D", "distill.cluster.coordinator.credit-window=64",
            "-D", "distill.cluster.heartbeat-pause=5", "-D", "distill.cluster.down-after=2"];
        static int Parts(string root) => Directory.Exists(Path.Combine(root, "cache"))
            ? Directory.GetFiles(Path.Combine(root, "cache"), "part-*.arrow", SearchOption.AllDirectories).Count(f => f.Contains($"{Path.DirectorySeparatorChar}mimic{Path.DirectorySeparatorChar}"))
            : 0;

        int partsAtKill;
        using (var first = new ClusterRun(runDir, teachers: 2, settings))
        {
            first.WaitFor("mimic cache parts written", () => Parts(runDir) >= 3);
            var coordinator = int.Parse(File.ReadAllText(first.PidFile("coordinator-0")).Trim());
            using (var node = Process.GetProcessById(coordinator)) node.Kill(); // SIGKILL
            partsAtKill = Parts(runDir);
            var exit = first.WaitForExit();
            output.WriteLine(first.Output);
            Assert.True(exit != 0, $"run.sh exited 0 after its coordinator was killed:\n{first.Output}");
            Assert.DoesNotContain(first.NodePids(), Running);
        }

        using var again = new ClusterRun(runDir, teachers: 2, settings);
        var resumed = again.WaitForExit();
        output.WriteLine(again.Output);
        Assert.True(resumed == 0, $"the resumed run.sh exited {resumed}:\n{again.Output}");
        var ledger = new RunLedger(Path.Combine(runDir, "ledger.jsonl")).ReadAll();
        Assert.Single(ledger, e => e.Stage == "teacher" && e.Status == RunLedgerStatus.Completed);   // not trained again
        var mimic = ledger.Single(e => e.Stage == "mimic" && e.Status == RunLedgerStatus.Completed);
        output.WriteLine($"coordinator killed with {partsAtKill} mimic parts cached; the resumed mimic took {mimic.Figures!["shards_from_cache"]} " +
            $"shards from the cache and {mimic.Figures["shards_from_teacher"]} from the teachers");
        // A part renamed into place just before the kill, whose manifest entry was not written yet, is deleted on reopen.
        Assert.InRange(mimic.Figures["shards_from_cache"], Math.Max(1, partsAtKill - 1), partsAtKill);
        Assert.Equal(28, mimic.Figures["shards_from_cache"] + mimic.Figures["shards_from_teacher"]);
        Assert.DoesNotContain(again.NodePids(), Running);
    }

    [Fact]
    public void Ctrl_c_stops_the_coordinator_and_every_teacher_node()
    {
        using var dir = new TempDir();
        using var run = new ClusterRun(Path.Combine(dir.Path, "run"), teachers: 2,
            ManyShards);

        // Mid-stage: both nodes registered and one inferring (every inference takes 400 ms, the stage 28 shards).
        run.WaitFor("both teacher nodes registered and one inferring", () =>
            ReadShared(run.Log("teacher-0")).Contains("Registered with the coordinator") &&
            ReadShared(run.Log("teacher-1")).Contains("Registered with the coordinator") &&
            (ReadShared(run.Log("teacher-0")) + ReadShared(run.Log("teacher-1"))).Contains("Inferring shard"));
        using (var kill = Process.Start("kill", ["-INT", run.Pid.ToString()])) kill.WaitForExit();
        var exit = run.WaitForExit();
        output.WriteLine(run.Output);

        Assert.True(exit == 130, $"run.sh exited {exit}:\n{run.Output}");
        Assert.Contains("interrupted; stopping the cluster", run.Output);
        Assert.Equal(3, run.NodePids().Count);
        Assert.DoesNotContain(run.NodePids(), Running);
    }

    [Fact]
    public void A_coordinator_that_fails_at_start_ends_the_run_with_its_exit_code_and_no_teacher_node_is_left()
    {
        using var dir = new TempDir();
        using var run = new ClusterRun(Path.Combine(dir.Path, "run"), teachers: 2, "-D", "distill.cluster.teacher.workers=0");
        var exit = run.WaitForExit();

        Assert.Equal(2, exit);
        Assert.Contains("distill.cluster.teacher.workers", run.Output);
        Assert.Contains("the coordinator exited (2) before the cluster was up", run.Output);
        Assert.Equal(["node-coordinator-0.pid"], Directory.GetFiles(Path.Combine(run.RunDir, "cluster"), "*.pid").Select(Path.GetFileName));
        Assert.DoesNotContain(run.NodePids(), Running);
    }

    [Fact]
    public void A_run_directory_that_is_not_distills_is_refused_before_run_sh_writes_into_it()
    {
        using var dir = new TempDir();
        var mine = FolderOwnershipTests.UsersLlavaFolder(dir.Path);
        var before = Distill.Stages.Tests.FolderSnapshot.Of(dir.Path);
        using var run = new ClusterRun(mine, teachers: 1);

        Assert.Equal(2, run.WaitForExit());
        Assert.Contains($"distill.run-dir {mine} is not empty and is not a Distill run directory", run.Output);
        Assert.Equal(before, Distill.Stages.Tests.FolderSnapshot.Of(dir.Path));
    }

    [Fact]
    public void Cluster_needs_a_teacher_count()
    {
        using var dir = new TempDir();
        using var run = new ClusterRun(Path.Combine(dir.Path, "run"), teachers: 0);
        Assert.Equal(2, run.WaitForExit());
        Assert.Contains("cluster needs --teachers N with N >= 1 (got '0')", run.Output);
    }
}
