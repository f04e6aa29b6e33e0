using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Bench;

/// <summary>What the timed steps of one distillation stage measured in a live run (sums over shards).</summary>
/// <param name="TeacherShards">teacher calls.</param>
/// <param name="TeacherStep">time inside the teacher step (Infer).</param>
/// <param name="TeacherEncode">of which writing the output batch (Arrow encode).</param>
/// <param name="TeacherDecode">of which reading the input shard (Arrow decode).</param>
/// <param name="StudentShards">student calls.</param>
/// <param name="StudentStep">time inside the student step (Consume).</param>
/// <param name="StudentDecode">of which reading the batch (Arrow decode).</param>
/// <param name="DeliveredShards">student calls whose batch was matched to the teacher call that made it (in one
/// process the trainer hands the teacher's own array to the student; a batch from the cache or joined from parts is
/// not matched).</param>
/// <param name="Messaging">over the matched shards: the time a batch took from the end of its teacher call to the
/// start of its student call, beyond any time the student was still busy with the shard before (so waiting for the
/// student is not counted; the worker -> trainer -> student host messages and their scheduling are).</param>
public sealed record FlowStageTimes(
    int TeacherShards, TimeSpan TeacherStep, TimeSpan TeacherEncode, TimeSpan TeacherDecode,
    int StudentShards, TimeSpan StudentStep, TimeSpan StudentDecode,
    int DeliveredShards, TimeSpan Messaging);

/// <summary>Times the teacher and student steps of every distillation stage of a live run (the pipeline benchmark,
/// issue 5 item 7b): <see cref="Instrument"/> wraps each stage's factories in <see cref="TimedTeacher"/> and
/// <see cref="TimedStudent"/>, which report here. Thread-safe (teacher workers and the student host call at once).</summary>
public sealed class FlowClock
{
    private readonly ConcurrentDictionary<string, Counters> _stages = new(StringComparer.Ordinal);
    private readonly ConditionalWeakTable<byte[], StrongBox<long>> _emitted = new();

    /// <summary>The stages, each distillation stage with timed teacher and student factories.</summary>
    public IReadOnlyList<StageDefinition> Instrument(IReadOnlyList<StageDefinition> stages) =>
        stages.Select(stage => stage is DistillStage distill
                ? distill with
                {
                    CreateTeacher = () => new TimedTeacher(distill.CreateTeacher(), this, distill.Name),
                    CreateStudent = () => new TimedStudent(distill.CreateStudent(), this, distill.Name),
                }
                : stage)
            .ToList();

    /// <summary>The stages that reported, by name.</summary>
    public IReadOnlyDictionary<string, FlowStageTimes> Snapshot() =>
        _stages.ToDictionary(kv => kv.Key, kv => kv.Value.Times(), StringComparer.Ordinal);

    internal void TeacherCall(string stage, long ticks, ArrowCodecTime codec, byte[] output, long endedAt)
    {
        var c = _stages.GetOrAdd(stage, _ => new Counters());
        lock (c)
        {
            c.TeacherShards++;
            c.TeacherTicks += ticks;
            c.TeacherEncode += codec.Encode;
            c.TeacherDecode += codec.Decode;
        }
        _emitted.AddOrUpdate(output, new StrongBox<long>(endedAt));
    }

    /// <summary>When the teacher call that made <paramref name="batch"/> ended (a timestamp), if it was one of this run's.</summary>
    internal long? EmittedAt(byte[] batch) => _emitted.TryGetValue(batch, out var at) ? at.Value : null;

    internal void StudentCall(string stage, long ticks, TimeSpan decode, long? messagingTicks)
    {
        var c = _stages.GetOrAdd(stage, _ => new Counters());
        lock (c)
        {
            c.StudentShards++;
            c.StudentTicks += ticks;
            c.StudentDecode += decode;
            if (messagingTicks is { } m)
            {
                c.Delivered++;
                c.MessagingTicks += m;
            }
        }
    }

    private sealed class Counters
    {
        public int TeacherShards, StudentShards, Delivered;
        public long TeacherTicks, StudentTicks, MessagingTicks;
        public TimeSpan TeacherEncode, TeacherDecode, StudentDecode;

        public FlowStageTimes Times()
        {
            lock (this)
                return new FlowStageTimes(TeacherShards, Ticks(TeacherTicks), TeacherEncode, TeacherDecode,
                    StudentShards, Ticks(StudentTicks), StudentDecode, Delivered, Ticks(MessagingTicks));
        }

        private static TimeSpan Ticks(long ticks) => Stopwatch.GetElapsedTime(0, ticks);
    }
}
