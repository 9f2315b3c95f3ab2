using System.Collections.Frozen;
using Microsoft.Extensions.Logging;
using Turnpike.Configuration;

namespace Turnpike.RateLimiting;

/// <summary>
/// A snapshot's rate-limit policies and Redis connection. <see cref="Build"/> carries over from the previous snapshot
/// every policy whose settings are unchanged (partitions, counters) and the connection when the redis section is.
/// </summary>
internal sealed class RateLimitSet
{
    public static readonly RateLimitSet Empty = new(FrozenDictionary<string, RateLimitPolicy>.Empty, null);

    private RateLimitSet(FrozenDictionary<string, RateLimitPolicy> policies, RedisConnection? redis)
    {
        Policies = policies;
        Redis = redis;
    }

    public FrozenDictionary<string, RateLimitPolicy> Policies { get; }

    public RedisConnection? Redis { get; }

    public static RateLimitSet Build(GatewayConfig config, RateLimitSet? previous, TimeProvider time, ILogger logger)
    {
        if (config.RateLimits.Count == 0)
        {
            return Empty;
        }

        RedisConnection? redis = null;
        if (config.Redis is { } redisConfig && config.RateLimits.Any(p => p.Scope == RateLimitScope.Global))
        {
            redis = previous?.Redis is { } old && old.Config == redisConfig ? old : new RedisConnection(redisConfig, time, logger);
        }

        var policies = new Dictionary<string, RateLimitPolicy>(StringComparer.Ordinal);
        foreach (var p in config.RateLimits)
        {
            var usesRedis = p.Scope == RateLimitScope.Global ? redis : null;
            if (previous is not null && previous.Policies.TryGetValue(p.Name, out var kept) && kept.Config.SameSettings(p)
                && ReferenceEquals(kept.Global?.Connection, usesRedis))
            {
                policies[p.Name] = kept;
                continue;
            }

            policies[p.Name] = new RateLimitPolicy(p, time, usesRedis);
        }

        return new RateLimitSet(policies.ToFrozenDictionary(StringComparer.Ordinal), redis);
    }

    /// <summary>Stops the timers of policies (and closes the connection) that <paramref name="successor"/> did not carry over.</summary>
    public void DisposeExcept(RateLimitSet? successor)
    {
        foreach (var (name, policy) in Policies)
        {
            if (successor is null || !successor.Policies.TryGetValue(name, out var next) || !ReferenceEquals(next, policy))
            {
                policy.Dispose();
            }
        }

        if (Redis is not null && !ReferenceEquals(successor?.Redis, Redis))
        {
            Redis.Dispose();
        }
    }
}
