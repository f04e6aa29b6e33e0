using Distill.Stages.Flow;
using Xunit;

namespace Distill.Stages.Tests;

public class ArrowCodecClockTests
{
    [Fact]
    public void Counts_every_call_and_returns_its_value()
    {
        var clock = new ArrowCodecClock();
        Assert.Equal(ArrowCodecTime.Zero, clock.Time);
        Assert.Equal(42, clock.Decoding(() => 42));
        Assert.Equal("x", clock.Decoding(() => "x"));
        Assert.Equal(7, clock.Encoding(() => 7));
        var time = clock.Time;
        Assert.Equal(2, time.Decodes);
        Assert.Equal(1, time.Encodes);
        Assert.True(time.Decode >= TimeSpan.Zero && time.Encode >= TimeSpan.Zero);
    }

    [Fact]
    public void A_call_that_throws_still_counts()
    {
        var clock = new ArrowCodecClock();
        Assert.Throws<InvalidDataException>(() => clock.Decoding<int>(() => throw new InvalidDataException("bad batch")));
        Assert.Equal(1, clock.Time.Decodes);
        Assert.Equal(0, clock.Time.Encodes);
    }

    [Fact]
    public void Since_subtracts_an_earlier_reading()
    {
        var later = new ArrowCodecTime(TimeSpan.FromMilliseconds(30), 3, TimeSpan.FromMilliseconds(50), 5);
        var earlier = new ArrowCodecTime(TimeSpan.FromMilliseconds(10), 1, TimeSpan.FromMilliseconds(20), 2);
        Assert.Equal(new ArrowCodecTime(TimeSpan.FromMilliseconds(20), 2, TimeSpan.FromMilliseconds(30), 3), later.Since(earlier));
    }
}
