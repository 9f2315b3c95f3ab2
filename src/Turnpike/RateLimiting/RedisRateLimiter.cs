using System.Globalization;
using StackExchange.Redis;
using Turnpike.Configuration;

namespace Turnpike.RateLimiting;

/// <summary>
/// A global token bucket: one EVALSHA round trip per request to the shared <see cref="RedisConnection"/>, bounded by
/// <c>redis.timeout</c>. Whenever Redis cannot answer (down, timed out, not connected yet) the request is decided by
/// the policy's <c>onRedisFailure</c>: the local limiter (default) or a rejection; every such decision is counted.
/// </summary>
internal sealed class RedisRateLimiter
{
    private readonly RedisConnection _connection;
    private readonly RedisValue[] _args;
    private readonly string _prefix;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _time;

    public RedisRateLimiter(RateLimitPolicyConfig config, RedisConnection connection, TimeProvider time)
    {
        _connection = connection;
        _time = time;
        _timeout = connection.Config.Timeout;
        _prefix = connection.Config.KeyPrefix + config.Name + ":";
        var interval = config.Period.TotalMicroseconds / config.Limit;
        _args = [interval.ToString("R", CultureInfo.InvariantCulture), (interval * config.Burst).ToString("R", CultureInfo.InvariantCulture)];
    }

    public RedisConnection Connection => _connection;

    /// <summary>The decision from Redis, or null when Redis could not decide (the caller falls back).</summary>
    public async ValueTask<RateLimitDecision?> TryAcquireAsync(string partition)
    {
        var health = _connection.Health;
        if (!health.ShouldAttempt())
        {
            return null;
        }

        if (!_connection.IsConnected)
        {
            health.OnFailure("not connected");
            return null;
        }

        try
        {
            var result = await _connection.EvaluateAsync(_prefix + partition, _args).WaitAsync(_timeout, _time).ConfigureAwait(false);
            health.OnSuccess();
            var values = (RedisResult[])result!;
            return (long)values[0] == 1
                ? RateLimitDecision.Admitted
                : new RateLimitDecision(false, TimeSpan.FromMicroseconds((long)values[1]));
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or InvalidCastException)
        {
            health.OnFailure(ex.GetType().Name + ": " + ex.Message);
            return null;
        }
    }
}
