using Distill.Pipeline.Bench;
using Distill.Stages.Flow;

namespace Distill.Pipeline.Tests;

/// <summary>The timed teacher and student steps of the pipeline benchmark: counts, Arrow times taken from the inner
/// steps, batches matched from teacher to student.</summary>
public class FlowClockTests
{
    /// <summary>Each call "spends" 3 ms encoding and 1 ms decoding by its own account.</summary>
    private sealed class CodecTeacher : ITeacherStep, IArrowCodecTimed
    {
        public ArrowCodecTime ArrowTime { get; private set; } = ArrowCodecTime.Zero;
        public bool Disposed { get; private set; }

        public byte[] Infer(byte[] samplesV1)
        {
            ArrowTime = ArrowTime with
            {
                Encode = ArrowTime.Encode + TimeSpan.FromMilliseconds(3), Encodes = ArrowTime.Encodes + 1,
                Decode = ArrowTime.Decode + TimeSpan.FromMilliseconds(1), Decodes = ArrowTime.Decodes + 1,
            };
            return [.. samplesV1, 0xAB];
        }

        public void Dispose() => Disposed = true;
    }

    /// <summary>Each Consume "spends" 5 ms decoding.</summary>
    private sealed class CodecStudent : IStudentStep, IArrowCodecTimed
    {
        public ArrowCodecTime ArrowTime { get; private set; } = ArrowCodecTime.Zero;

        public StepReport Consume(int shardId, byte[] teacherBatch)
        {
            ArrowTime = ArrowTime with { Decode = ArrowTime.Decode + TimeSpan.FromMilliseconds(5), Decodes = ArrowTime.Decodes + 1 };
            return new StepReport(shardId, 1, 0.5);
        }

        public StageOutcome Complete(IStageProgress progress, CancellationToken cancellation) =>
            new("/ckpt", new Dictionary<string, double> { ["x"] = 1 });

        public void Dispose() { }
    }

    [Fact]
    public void Timed_steps_report_calls_arrow_times_and_batches_handed_over_in_memory()
    {
        var clock = new FlowClock();
        var inner = new CodecTeacher();
        var eval = new ComputeStage("eval", (_, _) => StageOutcome.Empty);
        var stages = clock.Instrument([new DistillStage("mimic", () => null!, () => inner, () => new CodecStudent()), eval]);
        Assert.Same(eval, stages[1]); // only distillation stages are wrapped

        var mimic = Assert.IsType<DistillStage>(stages[0]);
        var teacher = mimic.CreateTeacher();
        var student = mimic.CreateStudent();
        Assert.IsType<TimedTeacher>(teacher);
        var first = teacher.Infer([1]);
        var second = teacher.Infer([2]);
        Assert.Equal(new byte[] { 1, 0xAB }, first);        // the inner step's output, unchanged
        Assert.Equal(0.5, student.Consume(0, first).Loss);
        student.Consume(1, second);
        student.Consume(2, [2, 0xAB]);                      // an equal batch from elsewhere (the cache): not matched
        Assert.Equal("/ckpt", student.Complete(NullStageProgress.Instance, CancellationToken.None).Checkpoint);
        teacher.Dispose();
        Assert.True(inner.Disposed);

        var t = clock.Snapshot()["mimic"];
        Assert.Equal(2, t.TeacherShards);
        Assert.Equal(TimeSpan.FromMilliseconds(6), t.TeacherEncode);
        Assert.Equal(TimeSpan.FromMilliseconds(2), t.TeacherDecode);
        Assert.Equal(3, t.StudentShards);
        Assert.Equal(TimeSpan.FromMilliseconds(15), t.StudentDecode);
        Assert.Equal(2, t.DeliveredShards);
        Assert.True(t.Messaging >= TimeSpan.Zero);
        // The trainer's figures still see the student's Arrow decoding through the wrapper.
        Assert.Equal(3, Assert.IsAssignableFrom<IArrowCodecTimed>(student).ArrowTime.Decodes);
    }
}
