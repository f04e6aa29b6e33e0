using System.Collections.Concurrent;
using Distill.Stages.Arrow;
using Distill.Stages.Flow;

namespace Distill.Actors.Tests;

/// <summary>A distillation scenario with real Arrow batches: shard s holds <see cref="RowsPerShard"/> samples/v1 rows
/// "s{s}-r{i}" whose input ids make each shard about <see cref="RowsPerShard"/> * <see cref="IdsPerRow"/> * 5 bytes;
/// the teacher passes the batch on unchanged (any Arrow batch will do for the flow), the student checks that it
/// got every row of the shard in order and records it. Thread-safe; shared by every node of a cluster test.</summary>
public sealed class ArrowFlowScenario(int shardCount, int rowsPerShard, int idsPerRow)
{
    public const int ImageBytes = 12;
    private readonly ConcurrentDictionary<int, int> _inferCalls = new();
    private readonly List<int> _consumed = new();
    private int _inferring;

    public int ShardCount { get; } = shardCount;
    public int RowsPerShard { get; } = rowsPerShard;
    public int IdsPerRow { get; } = idsPerRow;

    /// <summary>The row of this sample id has <see cref="GiantIds"/> input ids instead.</summary>
    public string? GiantSample { get; init; }
    public int GiantIds { get; init; } = 200_000;

    /// <summary>Set when a stalling teacher (see <see cref="Stage"/>) entered its first inference.</summary>
    public ManualResetEventSlim Stalled { get; } = new();
    /// <summary>Ends every stall.</summary>
    public ManualResetEventSlim Release { get; } = new();

    public IReadOnlyList<int> Consumed
    {
        get { lock (_consumed) return _consumed.ToList(); }
    }

    public int InferCalls(int shard) => _inferCalls.GetValueOrDefault(shard);
    public int MaxConcurrentInferences { get; private set; }

    public static string SampleId(int shard, int row) => $"s{shard}-r{row}";

    /// <param name="stallTeacher">its teachers block in their first inference until <see cref="Release"/> is set
    /// (a node that hangs mid-stage).</param>
    public DistillStage Stage(bool stallTeacher = false, string name = "mimic") =>
        new(name, () => new Source(this), () => new Teacher(this, stallTeacher), () => new Student(this));

    public byte[] ShardBytes(int shard) => SamplesV1.Write(Enumerable.Range(0, RowsPerShard).Select(i =>
    {
        var id = SampleId(shard, i);
        var n = id == GiantSample ? GiantIds : IdsPerRow;
        return new SampleRow(id, new byte[ImageBytes], Enumerable.Range(shard * 1000 + i, n).ToArray(), new bool[n], "count", $"{i}");
    }).ToList(), ImageBytes);

    private sealed class Source(ArrowFlowScenario s) : IShardSource
    {
        public int ShardCount => s.ShardCount;
        public byte[] LoadShard(int shardId) => s.ShardBytes(shardId);
    }

    private sealed class Teacher(ArrowFlowScenario s, bool stall) : ITeacherStep
    {
        private bool _stalled;

        public byte[] Infer(byte[] samplesV1)
        {
            var shard = int.Parse(SamplesV1.Read(samplesV1)[0].SampleId[1..].Split('-')[0]);
            s._inferCalls.AddOrUpdate(shard, 1, (_, n) => n + 1);
            var now = Interlocked.Increment(ref s._inferring);
            if (now > s.MaxConcurrentInferences) s.MaxConcurrentInferences = now;
            try
            {
                if (stall && !_stalled)
                {
                    _stalled = true;
                    s.Stalled.Set();
                    s.Release.Wait(TimeSpan.FromMinutes(2));
                }
                return samplesV1;
            }
            finally
            {
                Interlocked.Decrement(ref s._inferring);
            }
        }

        public void Dispose() { }
    }

    private sealed class Student(ArrowFlowScenario s) : IStudentStep
    {
        public StepReport Consume(int shardId, byte[] teacherBatch)
        {
            var rows = SamplesV1.Read(teacherBatch);
            var expected = Enumerable.Range(0, s.RowsPerShard).Select(i => SampleId(shardId, i));
            if (!rows.Select(r => r.SampleId).SequenceEqual(expected))
                throw new InvalidDataException($"shard {shardId}: rows {string.Join(",", rows.Select(r => r.SampleId))} are not the shard's");
            if (rows.Any(r => r.InputIds.Length != (r.SampleId == s.GiantSample ? s.GiantIds : s.IdsPerRow)))
                throw new InvalidDataException($"shard {shardId}: a row lost input ids");
            lock (s._consumed) s._consumed.Add(shardId);
            return new StepReport(shardId, rows.Count, 0.5);
        }

        public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) =>
            new("/ckpt/student", new Dictionary<string, double> { ["consumed"] = s.Consumed.Count });

        public void Dispose() { }
    }
}
