using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.RateLimiting;

/// <summary>
/// One <c>rateLimits</c> entry at run time: its key extractor, its local limiter (the whole policy when local, the
/// fallback when global), the Redis limiter of a global policy, precomputed 429 headers and its counters. Built at
/// config load and carried over a reload while its settings (and for global ones the redis section) are unchanged.
/// </summary>
internal sealed class RateLimitPolicy : IDisposable
{
    public RateLimitPolicy(RateLimitPolicyConfig config, TimeProvider time, RedisConnection? redis)
    {
        Config = config;
        Key = PartitionKeyExtractor.Create(config);
        Local = new LocalRateLimiter(config, time);
        Global = config.Scope == RateLimitScope.Global && redis is not null ? new RedisRateLimiter(config, redis, time) : null;
        Headers = new RateLimitHeaders(config);
    }

    public RateLimitPolicyConfig Config { get; }

    public string Name => Config.Name;

    public PartitionKeyExtractor Key { get; }

    public LocalRateLimiter Local { get; }

    public RedisRateLimiter? Global { get; }

    public RateLimitHeaders Headers { get; }

    public RateLimitCounters Counters { get; } = new();

    /// <summary>Decided without waiting: a local policy that holds no lease (token bucket, windows).</summary>
    public bool Synchronous => Global is null && Config.Algorithm != RateLimitAlgorithm.Concurrency;

    /// <summary>The local decision for this request (the fast path: no allocation for an existing partition that admits).</summary>
    public RateLimitDecision AcquireLocal(HttpContext context, RouteModel route)
    {
        Span<char> buffer = stackalloc char[PartitionKeyExtractor.BufferSize];
        return Decide(Local.Acquire(Key.Extract(context, route, buffer)));
    }

    /// <summary>The partition key as a string (for Redis).</summary>
    public string PartitionOf(HttpContext context, RouteModel route)
    {
        Span<char> buffer = stackalloc char[PartitionKeyExtractor.BufferSize];
        return new string(Key.Extract(context, route, buffer));
    }

    /// <summary>The decision for a request of a global policy: Redis, else the onRedisFailure fallback.</summary>
    public async ValueTask<RateLimitDecision> AcquireGlobalAsync(string partition)
    {
        if (await Global!.TryAcquireAsync(partition).ConfigureAwait(false) is { } decided)
        {
            return decided;
        }

        Counters.OnFallback();
        return Config.OnRedisFailure == RedisFailureMode.Deny
            ? new RateLimitDecision(false, Global.Connection.Config.RetryInterval)
            : Decide(Local.Acquire(partition));
    }

    private RateLimitDecision Decide(RateLimitLease lease)
    {
        if (lease.IsAcquired)
        {
            if (Config.Algorithm == RateLimitAlgorithm.Concurrency)
            {
                return new RateLimitDecision(true, TimeSpan.Zero, lease);
            }

            lease.Dispose();
            return RateLimitDecision.Admitted;
        }

        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        lease.Dispose();
        return new RateLimitDecision(false, retryAfter);
    }

    public void Dispose() => Local.Dispose();
}
