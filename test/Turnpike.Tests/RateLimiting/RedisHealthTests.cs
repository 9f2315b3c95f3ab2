using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Turnpike.RateLimiting;

namespace Turnpike.Tests.RateLimiting;

public sealed class RedisHealthTests
{
    [Fact]
    public void LogsOncePerStateChangeAndRetriesOncePerInterval()
    {
        var time = new FakeTimeProvider();
        var logger = new TestLogger();
        var health = new RedisHealth(time, TimeSpan.FromSeconds(1), logger, "127.0.0.1:6379");
        Assert.True(health.IsUp);
        Assert.True(health.ShouldAttempt());

        health.OnFailure("timeout");
        health.OnFailure("timeout");
        Assert.False(health.IsUp);
        Assert.Equal([LogLevel.Warning], logger.Levels);
        Assert.Contains("unreachable (timeout)", logger.Messages[0]);

        // Down: nobody tries until the interval has passed, then exactly one request does.
        Assert.False(health.ShouldAttempt());
        time.Advance(TimeSpan.FromMilliseconds(999));
        Assert.False(health.ShouldAttempt());
        time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(health.ShouldAttempt());
        Assert.False(health.ShouldAttempt());

        // That try fails: the next one is an interval later again, and nothing more is logged.
        health.OnFailure("refused");
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.False(health.ShouldAttempt());
        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.True(health.ShouldAttempt());
        Assert.Single(logger.Levels);

        health.OnSuccess();
        health.OnSuccess();
        Assert.True(health.IsUp);
        Assert.True(health.ShouldAttempt());
        Assert.Equal([LogLevel.Warning, LogLevel.Information], logger.Levels);
        Assert.Equal(2, health.Transitions);
    }
}
