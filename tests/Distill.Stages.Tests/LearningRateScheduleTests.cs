using Distill.Stages.Training;
using Xunit;

namespace Distill.Stages.Tests;

public class LearningRateScheduleTests
{
    [Fact]
    public void WarmsUpLinearlyThenDecaysToTenPercent()
    {
        var schedule = new LearningRateSchedule(peak: 1e-3, warmupSteps: 4, totalSteps: 104);
        Assert.Equal(0.25e-3, schedule.At(0), 12);
        Assert.Equal(1e-3, schedule.At(3), 12);
        Assert.Equal(1e-3, schedule.At(4), 12);              // start of the cosine
        Assert.Equal(0.55e-3, schedule.At(54), 12);          // half way: floor + (peak - floor) / 2
        Assert.Equal(0.1e-3, schedule.At(104), 12);          // end: 10% of peak
        Assert.Equal(0.1e-3, schedule.At(500), 12);          // clamped after the end
    }

    [Fact]
    public void RejectsNonPositiveRate() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new LearningRateSchedule(0, 1, 10));
}
