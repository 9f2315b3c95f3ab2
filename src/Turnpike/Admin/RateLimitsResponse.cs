using Turnpike.Configuration;
using Turnpike.Model;

namespace Turnpike.Admin;

/// <summary><c>GET /admin/ratelimits</c>: every policy's decisions, partitions and (for global ones) Redis fallbacks.</summary>
internal sealed record RateLimitsResponse(long Generation, RedisStatus? Redis, IReadOnlyList<RateLimitPolicyStatus> Policies)
{
    public static RateLimitsResponse Describe(GatewaySnapshot snapshot)
    {
        var set = snapshot.RateLimits;
        var policies = new List<RateLimitPolicyStatus>(set.Policies.Count);
        foreach (var config in snapshot.Config.RateLimits)
        {
            var policy = set.Policies[config.Name];
            var counters = policy.Counters;
            var byRoute = new SortedDictionary<string, long>(StringComparer.Ordinal);
            foreach (var (route, count) in counters.RejectedByRoute)
            {
                byRoute[route] = Interlocked.Read(ref count.Value);
            }

            policies.Add(new RateLimitPolicyStatus(
                config.Name,
                config.Algorithm,
                config.Scope,
                config.Limit,
                config.Algorithm == RateLimitAlgorithm.Concurrency ? null : config.Period.TotalSeconds,
                policy.Headers.Policy,
                counters.Admitted,
                counters.Rejected,
                counters.Fallbacks,
                policy.Local.PartitionCount,
                policy.Local.Evicted,
                policy.Local.OverflowHits,
                byRoute));
        }

        var redis = set.Redis is { } r ? new RedisStatus(r.Endpoint, r.IsConnected, r.Health.IsUp, r.Health.Transitions) : null;
        return new RateLimitsResponse(snapshot.Generation, redis, policies);
    }
}

/// <summary>The connection of global policies: <c>Up</c> is the request path's view (false while decisions fall back).</summary>
internal sealed record RedisStatus(string Endpoint, bool Connected, bool Up, long StateChanges);

/// <summary>
/// One policy. <c>Fallbacks</c>: requests of a global policy decided by <c>onRedisFailure</c>; <c>Partitions</c>: keys held
/// in this process; <c>Overflow</c>: requests that shared the overflow partition because <c>maxPartitions</c> was reached.
/// </summary>
internal sealed record RateLimitPolicyStatus(
    string Name,
    RateLimitAlgorithm Algorithm,
    RateLimitScope Scope,
    int Limit,
    double? PeriodSeconds,
    string Header,
    long Admitted,
    long Rejected,
    long Fallbacks,
    int Partitions,
    long Evicted,
    long Overflow,
    IReadOnlyDictionary<string, long> RejectedByRoute);
