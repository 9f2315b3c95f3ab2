using Microsoft.Extensions.Logging;

namespace Turnpike.RateLimiting;

/// <summary>
/// Whether Redis answers, as the request path sees it. A failure marks it down (logged once); while down, one request
/// per <c>retryInterval</c> tries Redis again (the others go straight to the fallback, so a dead Redis costs them
/// nothing) and the first success marks it up again (logged once). Lock-free: a compare-exchange claims each retry.
/// </summary>
internal sealed partial class RedisHealth(TimeProvider time, TimeSpan retryInterval, ILogger logger, string endpoint)
{
    private readonly long _retryTicks = Math.Max(1, (long)(retryInterval.TotalSeconds * time.TimestampFrequency));
    private int _down;
    private long _nextAttempt;
    private long _transitions;

    public bool IsUp => Volatile.Read(ref _down) == 0;

    /// <summary>Up/down changes so far (each was logged once).</summary>
    public long Transitions => Interlocked.Read(ref _transitions);

    /// <summary>True when this request may use Redis: always while up; while down, the one request that claims the next retry slot.</summary>
    public bool ShouldAttempt()
    {
        if (Volatile.Read(ref _down) == 0)
        {
            return true;
        }

        var next = Volatile.Read(ref _nextAttempt);
        var now = time.GetTimestamp();
        return now >= next && Interlocked.CompareExchange(ref _nextAttempt, now + _retryTicks, next) == next;
    }

    public void OnSuccess()
    {
        if (Volatile.Read(ref _down) == 1 && Interlocked.Exchange(ref _down, 0) == 1)
        {
            Interlocked.Increment(ref _transitions);
            LogUp(logger, endpoint);
        }
    }

    public void OnFailure(string reason)
    {
        Volatile.Write(ref _nextAttempt, time.GetTimestamp() + _retryTicks);
        if (Volatile.Read(ref _down) == 0 && Interlocked.Exchange(ref _down, 1) == 0)
        {
            Interlocked.Increment(ref _transitions);
            LogDown(logger, endpoint, reason);
        }
    }

    [LoggerMessage(1, LogLevel.Warning, "Redis {Endpoint} is unreachable ({Reason}); global rate limits use their onRedisFailure fallback until it answers again")]
    private static partial void LogDown(ILogger logger, string endpoint, string reason);

    [LoggerMessage(2, LogLevel.Information, "Redis {Endpoint} answers again; global rate limits are enforced through it")]
    private static partial void LogUp(ILogger logger, string endpoint);
}
