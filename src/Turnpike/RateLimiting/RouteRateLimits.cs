using System.Runtime.CompilerServices;

namespace Turnpike.RateLimiting;

/// <summary>The policies of one route, in order, with this route's rejection counter in each. Null on routes without any.</summary>
internal sealed class RouteRateLimits(RateLimitPolicy[] policies, StrongBox<long>[] rejected)
{
    public RateLimitPolicy[] Policies { get; } = policies;

    /// <summary>Per policy: rejections on this route.</summary>
    public StrongBox<long>[] Rejected { get; } = rejected;

    /// <summary>Every policy decides without waiting and holds nothing: the request path stays synchronous.</summary>
    public bool Synchronous { get; } = Array.TrueForAll(policies, p => p.Synchronous);
}

/// <summary>Builds a route's <see cref="RouteRateLimits"/> at config load.</summary>
internal static class RouteRateLimitsFactory
{
    public static RouteRateLimits? Create(Configuration.RouteConfig route, RateLimitSet set)
    {
        if (route.RateLimits.Count == 0)
        {
            return null;
        }

        var policies = new RateLimitPolicy[route.RateLimits.Count];
        var rejected = new StrongBox<long>[policies.Length];
        for (var i = 0; i < policies.Length; i++)
        {
            policies[i] = set.Policies[route.RateLimits[i]];
            rejected[i] = policies[i].Counters.ForRoute(route.Id);
        }

        return new RouteRateLimits(policies, rejected);
    }
}
