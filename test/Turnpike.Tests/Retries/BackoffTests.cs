using Turnpike.Retries;

namespace Turnpike.Tests.Retries;

public sealed class BackoffTests
{
    /// <summary>A Random whose NextDouble is fixed, for the bounds of full jitter.</summary>
    private sealed class FixedRandom(double value) : Random
    {
        public override double NextDouble() => value;
    }

    [Fact]
    public void CeilingDoublesFromBaseUpToMax()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(250));
        Assert.Equal(TimeSpan.FromMilliseconds(25), backoff.Ceiling(1));
        Assert.Equal(TimeSpan.FromMilliseconds(50), backoff.Ceiling(2));
        Assert.Equal(TimeSpan.FromMilliseconds(100), backoff.Ceiling(3));
        Assert.Equal(TimeSpan.FromMilliseconds(200), backoff.Ceiling(4));
        Assert.Equal(TimeSpan.FromMilliseconds(250), backoff.Ceiling(5));
        Assert.Equal(TimeSpan.FromMilliseconds(250), backoff.Ceiling(64));
        Assert.Equal(TimeSpan.FromMilliseconds(250), backoff.Ceiling(int.MaxValue));
    }

    [Fact]
    public void FullJitterSpansZeroToTheCeiling()
    {
        var low = new Backoff(TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(250), new FixedRandom(0));
        var high = new Backoff(TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(250), new FixedRandom(0.999_999));
        var half = new Backoff(TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(250), new FixedRandom(0.5));
        for (var retry = 1; retry <= 6; retry++)
        {
            Assert.Equal(TimeSpan.Zero, low.Next(retry));
            Assert.InRange(high.Next(retry), high.Ceiling(retry) * 0.999, high.Ceiling(retry));
            Assert.Equal(half.Ceiling(retry) / 2, half.Next(retry));
        }
    }

    [Fact]
    public void SamplesAreSpreadOverTheWholeRange()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(10), TimeSpan.FromSeconds(1), new Random(1234));
        var samples = Enumerable.Range(0, 2000).Select(_ => backoff.Next(3).TotalMilliseconds).ToArray();
        Assert.All(samples, ms => Assert.InRange(ms, 0, 40));
        // Full jitter, not "base plus a little": the samples fill [0, 40) evenly.
        Assert.InRange(samples.Min(), 0, 2);
        Assert.InRange(samples.Max(), 38, 40);
        Assert.InRange(samples.Average(), 18, 22);
    }

    [Fact]
    public void RejectsMaxBelowBase()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromMilliseconds(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1)).Ceiling(0));
    }
}
