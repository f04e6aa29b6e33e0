using System.Collections.Concurrent;
using Distill.Stages.Flow;

namespace Distill.Actors.Tests;

/// <summary>Shared, thread-safe state of one distillation scenario: what the fake source, teachers and student
/// did, and knobs for how they misbehave.</summary>
public sealed class FlowScenario
{
    private int _inFlight;
    private int _maxInFlight;
    private int _teachersCreated;
    private int _teachersDisposed;
    private readonly ConcurrentDictionary<int, int> _inferCalls = new();
    private readonly ConcurrentDictionary<int, int> _loadCalls = new();
    private readonly List<int> _consumed = new();

    public FlowScenario(int shardCount) => ShardCount = shardCount;

    public int ShardCount { get; }
    public TimeSpan StudentDelay { get; init; }
    public TimeSpan TeacherDelay { get; init; }
    /// <summary>Teacher number (1 = the first created) -> its delay per call, added to <see cref="TeacherDelay"/>.</summary>
    public Func<int, TimeSpan> TeacherDelayOf { get; init; } = _ => TimeSpan.Zero;
    /// <summary>(shard, call number starting at 1) -> throw this message, or null to succeed.</summary>
    public Func<int, int, string?> TeacherFailure { get; init; } = (_, _) => null;
    /// <summary>(shard, call number starting at 1) -> block for this long before answering.</summary>
    public Func<int, int, TimeSpan> TeacherStall { get; init; } = (_, _) => TimeSpan.Zero;
    /// <summary>(shard, call number starting at 1) -> throw this message from LoadShard, or null.</summary>
    public Func<int, int, string?> LoadFailure { get; init; } = (_, _) => null;
    public Func<int, string?> ConsumeFailure { get; init; } = _ => null;
    /// <summary>Shards from this id on are held out: the student trains nothing on them and reports a NaN loss.</summary>
    public int HeldOutFrom { get; init; } = int.MaxValue;
    public string? CreateTeacherFailure { get; init; }
    public string? CreateStudentFailure { get; init; }
    public string? CreateSourceFailure { get; init; }
    /// <summary>Teachers emit real <c>teacher/v2</c> batches (<see cref="TestBatches.Teacher"/>), as the cache needs.</summary>
    public bool ArrowBatches { get; init; }
    /// <summary>Called inside the student's Consume, before it returns (so before the shard is acked).</summary>
    public Action<int> OnConsume { get; init; } = _ => { };
    /// <summary>Set once a teacher enters a stall; the test can act while it blocks.</summary>
    public ManualResetEventSlim Stalled { get; } = new();
    /// <summary>The teacher worker actor that entered the stall.</summary>
    public Akka.Actor.IActorRef? StalledWorker { get; private set; }
    /// <summary>Ends every stall early when set.</summary>
    public ManualResetEventSlim Release { get; } = new();

    public int MaxInFlight => Volatile.Read(ref _maxInFlight);
    public int TeachersCreated => Volatile.Read(ref _teachersCreated);
    public int TeachersDisposed => Volatile.Read(ref _teachersDisposed);
    public bool StudentDisposed { get; private set; }
    public bool StudentCompleted { get; private set; }
    public int InferCalls(int shard) => _inferCalls.GetValueOrDefault(shard);
    public int LoadCalls(int shard) => _loadCalls.GetValueOrDefault(shard);

    public IReadOnlyList<int> Consumed
    {
        get { lock (_consumed) return _consumed.ToList(); }
    }

    public DistillStage Stage(string name = "mimic") => new(name, CreateSource, CreateTeacher, CreateStudent);

    public IShardSource CreateSource() =>
        CreateSourceFailure is { } error ? throw new IOException(error) : new FakeSource(this);

    public ITeacherStep CreateTeacher()
    {
        if (CreateTeacherFailure is { } error) throw new InvalidOperationException(error);
        return new FakeTeacher(this, Interlocked.Increment(ref _teachersCreated));
    }

    public IStudentStep CreateStudent() =>
        CreateStudentFailure is { } error ? throw new InvalidOperationException(error) : new FakeStudent(this);

    private sealed class FakeSource(FlowScenario s) : IShardSource
    {
        public int ShardCount => s.ShardCount;

        public byte[] LoadShard(int shardId)
        {
            var call = s._loadCalls.AddOrUpdate(shardId, 1, (_, n) => n + 1);
            if (s.LoadFailure(shardId, call) is { } error) throw new IOException(error);
            // A shard counts as in flight from its load (after its lease) until the student consumed it.
            var now = Interlocked.Increment(ref s._inFlight);
            int max;
            while (now > (max = Volatile.Read(ref s._maxInFlight)))
                Interlocked.CompareExchange(ref s._maxInFlight, now, max);
            return BitConverter.GetBytes(shardId);
        }
    }

    private sealed class FakeTeacher(FlowScenario s, int number) : ITeacherStep
    {
        public byte[] Infer(byte[] samplesV1)
        {
            var shard = BitConverter.ToInt32(samplesV1);
            var call = s._inferCalls.AddOrUpdate(shard, 1, (_, n) => n + 1);
            var stall = s.TeacherStall(shard, call);
            if (stall > TimeSpan.Zero)
            {
                s.StalledWorker = Akka.Actor.ActorCell.GetCurrentSelfOrNoSender();
                s.Stalled.Set();
                s.Release.Wait(stall);
            }
            if (s.TeacherDelay + s.TeacherDelayOf(number) is var delay && delay > TimeSpan.Zero) Thread.Sleep(delay);
            if (s.TeacherFailure(shard, call) is { } error) throw new InvalidOperationException(error);
            return s.ArrowBatches ? TestBatches.Teacher(shard) : [.. samplesV1, 0xAB];
        }

        public void Dispose() => Interlocked.Increment(ref s._teachersDisposed);
    }

    private sealed class FakeStudent(FlowScenario s) : IStudentStep
    {
        public StepReport Consume(int shardId, byte[] teacherBatch)
        {
            var ok = s.ArrowBatches
                ? TestBatches.ShardOf(teacherBatch) == shardId
                : teacherBatch.Length == 5 && BitConverter.ToInt32(teacherBatch) == shardId && teacherBatch[4] == 0xAB;
            if (!ok) throw new InvalidDataException($"shard {shardId}: batch is not this shard's teacher output");
            s.OnConsume(shardId);
            if (s.ConsumeFailure(shardId) is { } error) throw new InvalidOperationException(error);
            if (s.StudentDelay > TimeSpan.Zero) Thread.Sleep(s.StudentDelay);
            lock (s._consumed) s._consumed.Add(shardId);
            Interlocked.Decrement(ref s._inFlight);
            return new StepReport(shardId, 2, shardId >= s.HeldOutFrom ? double.NaN : 1.0 / (shardId + 1));
        }

        public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation)
        {
            s.StudentCompleted = true;
            progress.Report(new StageProgress("mimic", "complete", 1, 1, 0, 0.5));
            return new StageOutcome("/ckpt/student", new Dictionary<string, double> { ["consumed"] = s.Consumed.Count });
        }

        public void Dispose() => s.StudentDisposed = true;
    }
}

/// <summary>Collects progress reports (thread-safe).</summary>
public sealed class RecordingProgress : IStageProgress
{
    private readonly List<StageProgress> _reports = new();

    public IReadOnlyList<StageProgress> Reports
    {
        get { lock (_reports) return _reports.ToList(); }
    }

    public void Report(StageProgress progress)
    {
        lock (_reports) _reports.Add(progress);
    }
}
