using Turnpike.Tools.Probe;

namespace Turnpike.Tests.Tools;

public class JitterTests
{
    [Fact]
    public void Mean_absolute_difference_of_consecutive_samples()
    {
        // |12-10| + |11-12| + |15-11| + |15-15| = 2 + 1 + 4 + 0 = 7 over 4 differences
        Assert.Equal(1.75, Jitter.MeanAbsoluteDifference([10, 12, 11, 15, 15]), 12);
    }

    [Fact]
    public void Constant_latency_has_no_jitter_and_one_sample_has_none_either()
    {
        Assert.Equal(0, Jitter.MeanAbsoluteDifference([3, 3, 3, 3]));
        Assert.Equal(0, Jitter.MeanAbsoluteDifference([42]));
        Assert.Equal(0, Jitter.MeanAbsoluteDifference([]));
        Assert.Equal(0, Jitter.Smoothed([42]));
    }

    [Fact]
    public void Rfc3550_smoothed_estimate_follows_its_recurrence()
    {
        // J1 = 0 + (2 - 0)/16 = 0.125; J2 = 0.125 + (1 - 0.125)/16 = 0.1796875; J3 = 0.1796875 + (4 - 0.1796875)/16 = 0.418457...
        Assert.Equal(0.125, Jitter.Smoothed([10, 12]), 12);
        Assert.Equal(0.1796875, Jitter.Smoothed([10, 12, 11]), 12);
        Assert.Equal(0.1796875 + ((4 - 0.1796875) / 16), Jitter.Smoothed([10, 12, 11, 15]), 12);
    }

    [Fact]
    public void Alternating_samples_give_the_full_swing()
    {
        Assert.Equal(5, Jitter.MeanAbsoluteDifference([1, 6, 1, 6, 1]), 12);
    }
}
