using Microsoft.Extensions.Time.Testing;
using Turnpike.Configuration;
using Turnpike.RateLimiting;

namespace Turnpike.Tests.RateLimiting;

public sealed class LocalRateLimiterTests
{
    private static RateLimitPolicyConfig Policy(RateLimitAlgorithm algorithm, int limit, int maxPartitions = 100, TimeSpan? idle = null, int burst = 0, TimeSpan? period = null) => new()
    {
        Name = "p",
        Algorithm = algorithm,
        Limit = limit,
        Burst = burst == 0 ? limit : burst,
        Period = algorithm == RateLimitAlgorithm.Concurrency ? TimeSpan.Zero : period ?? TimeSpan.FromSeconds(1),
        Segments = 10,
        MaxPartitions = maxPartitions,
        IdleTimeout = idle ?? TimeSpan.FromMinutes(1),
    };

    [Fact]
    public void IdlePartitionsAreEvictedButNotOnesWithRequestsInFlight()
    {
        var time = new FakeTimeProvider();
        using var limiter = new LocalRateLimiter(Policy(RateLimitAlgorithm.Concurrency, 1, maxPartitions: 3), time);
        var held = limiter.Acquire("a");
        Assert.True(held.IsAcquired);
        limiter.Acquire("b").Dispose();
        limiter.Acquire("c").Dispose();
        Assert.Equal(3, limiter.PartitionCount);

        // Full: a new key shares the overflow partition instead of growing the map.
        using (var overflow = limiter.Acquire("d"))
        {
            Assert.True(overflow.IsAcquired);
            Assert.False(limiter.Acquire("e").IsAcquired); // the overflow partition is shared and has one permit
        }

        Assert.Equal((3, 2L), (limiter.PartitionCount, limiter.OverflowHits));

        time.Advance(TimeSpan.FromSeconds(59));
        Assert.Equal(3, limiter.PartitionCount);
        time.Advance(TimeSpan.FromSeconds(11)); // past the idle timeout, and a sweep (every 10 s here) has run
        Assert.Equal((1, 2L), (limiter.PartitionCount, limiter.Evicted));
        Assert.False(limiter.Acquire("a").IsAcquired); // still the partition with the request in flight

        held.Dispose();
        time.Advance(TimeSpan.FromSeconds(71));
        Assert.Equal((0, 3L), (limiter.PartitionCount, limiter.Evicted));
        limiter.Acquire("d").Dispose();
        Assert.Equal(1, limiter.PartitionCount); // room again: new keys get partitions of their own
    }

    [Fact]
    public void ActivePartitionsAreKept()
    {
        var time = new FakeTimeProvider();
        using var limiter = new LocalRateLimiter(Policy(RateLimitAlgorithm.Concurrency, 5, idle: TimeSpan.FromSeconds(4)), time);
        for (var i = 0; i < 20; i++)
        {
            limiter.Acquire("busy").Dispose();
            time.Advance(TimeSpan.FromSeconds(1));
        }

        Assert.Equal((1, 0L), (limiter.PartitionCount, limiter.Evicted));
    }

    [Theory]
    [InlineData(RateLimitAlgorithm.TokenBucket, 1, 10, 60, 1, 600)] // a bucket of 10 at 1/min refills in 10 min
    [InlineData(RateLimitAlgorithm.TokenBucket, 100, 100, 1, 60, 60)]
    [InlineData(RateLimitAlgorithm.FixedWindow, 5, 0, 120, 60, 120)] // a window outlasts the idle timeout
    [InlineData(RateLimitAlgorithm.Concurrency, 5, 0, 0, 30, 30)]
    public void IdleTimeoutNeverCutsRecoveryShort(RateLimitAlgorithm algorithm, int limit, int burst, int periodSeconds, int idleSeconds, int expectedSeconds)
    {
        var config = Policy(algorithm, limit, idle: TimeSpan.FromSeconds(idleSeconds), burst: burst, period: TimeSpan.FromSeconds(periodSeconds));
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), LocalRateLimiter.EffectiveIdleTimeout(config));
    }

    [Fact]
    public void TokenBucketRejectsPastTheBurstWithRetryAfter()
    {
        var time = new FakeTimeProvider();
        using var limiter = new LocalRateLimiter(Policy(RateLimitAlgorithm.TokenBucket, 2, burst: 3, period: TimeSpan.FromMinutes(1)), time, startTimer: false);
        for (var i = 0; i < 3; i++)
        {
            Assert.True(limiter.Acquire("k").IsAcquired);
        }

        using var rejected = limiter.Acquire("k");
        Assert.False(rejected.IsAcquired);
        Assert.True(rejected.TryGetMetadata(System.Threading.RateLimiting.MetadataName.RetryAfter, out var wait) && wait > TimeSpan.Zero);
        Assert.True(limiter.Acquire("other").IsAcquired); // partitions are independent
    }
}
