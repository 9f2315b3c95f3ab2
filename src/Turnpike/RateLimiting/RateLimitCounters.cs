using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace Turnpike.RateLimiting;

/// <summary>A policy's decisions so far (Interlocked), kept across reloads while the policy is unchanged.</summary>
internal sealed class RateLimitCounters
{
    private readonly ConcurrentDictionary<string, StrongBox<long>> _rejectedByRoute = new(StringComparer.Ordinal);
    private long _admitted;
    private long _rejected;
    private long _fallbacks;

    public long Admitted => Interlocked.Read(ref _admitted);

    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Global policy: requests decided by the onRedisFailure fallback because Redis could not answer.</summary>
    public long Fallbacks => Interlocked.Read(ref _fallbacks);

    public IEnumerable<KeyValuePair<string, StrongBox<long>>> RejectedByRoute => _rejectedByRoute;

    /// <summary>The rejection counter of one route, looked up when the model is built (never per request).</summary>
    public StrongBox<long> ForRoute(string routeId) => _rejectedByRoute.GetOrAdd(routeId, static _ => new StrongBox<long>());

    public void OnAdmitted() => Interlocked.Increment(ref _admitted);

    public void OnRejected(StrongBox<long> route)
    {
        Interlocked.Increment(ref _rejected);
        Interlocked.Increment(ref route.Value);
    }

    public void OnFallback() => Interlocked.Increment(ref _fallbacks);
}
