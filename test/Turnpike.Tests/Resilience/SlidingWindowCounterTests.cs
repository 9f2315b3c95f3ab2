using Microsoft.Extensions.Time.Testing;
using Turnpike.Resilience;

namespace Turnpike.Tests.Resilience;

public class SlidingWindowCounterTests
{
    [Fact]
    public void CountsWithinTheWindowAndForgetsOlderBuckets()
    {
        var time = new FakeTimeProvider();
        var window = new SlidingWindowCounter(time, TimeSpan.FromSeconds(10), counters: 2, buckets: 10);
        window.Add(0, 5);
        window.Add(1);
        Assert.Equal(5, window.Sum(0));
        Assert.Equal(1, window.Sum(1));

        time.Advance(TimeSpan.FromSeconds(5));
        window.Add(0, 3);
        Assert.Equal(8, window.Sum(0));

        // The first bucket leaves the window after 10 s; the second one is still in.
        time.Advance(TimeSpan.FromSeconds(5.5));
        Assert.Equal(3, window.Sum(0));
        Assert.Equal(0, window.Sum(1));

        time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, window.Sum(0));
    }

    [Fact]
    public void ReusedBucketStartsFromZero()
    {
        var time = new FakeTimeProvider();
        var window = new SlidingWindowCounter(time, TimeSpan.FromSeconds(1), counters: 1, buckets: 4);
        window.Add(0, 100);
        time.Advance(TimeSpan.FromSeconds(1)); // same bucket index, next lap
        window.Add(0, 1);
        Assert.Equal(1, window.Sum(0));
    }

    [Fact]
    public void ClearForgetsEverything()
    {
        var time = new FakeTimeProvider();
        var window = new SlidingWindowCounter(time, TimeSpan.FromSeconds(1), counters: 1);
        window.Add(0, 7);
        window.Clear();
        Assert.Equal(0, window.Sum(0));
        window.Add(0, 2);
        Assert.Equal(2, window.Sum(0));
    }

    [Fact]
    public async Task ConcurrentAddsWithinOneBucketAreAllCounted()
    {
        var time = new FakeTimeProvider();
        var window = new SlidingWindowCounter(time, TimeSpan.FromSeconds(10), counters: 1);
        await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() =>
        {
            for (var i = 0; i < 10_000; i++)
            {
                window.Add(0);
            }
        })));
        Assert.Equal(40_000, window.Sum(0));
    }
}
