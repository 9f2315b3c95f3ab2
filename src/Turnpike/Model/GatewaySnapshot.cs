using System.Collections.Frozen;
using Turnpike.Configuration;
using Turnpike.Routing;

namespace Turnpike.Model;

/// <summary>
/// One immutable generation of the runtime model. The request path reads <see cref="GatewayState.Current"/> once
/// per request, so a reload never changes the model under a request that is already running.
/// </summary>
internal sealed class GatewaySnapshot(long generation, GatewayConfig config, RouteTable routes, FrozenDictionary<string, ClusterModel> clusters, string source) : IDisposable
{
    public long Generation { get; } = generation;

    public GatewayConfig Config { get; } = config;

    public RouteTable Routes { get; } = routes;

    public FrozenDictionary<string, ClusterModel> Clusters { get; } = clusters;

    /// <summary>The file the config came from, or "&lt;embedded default&gt;".</summary>
    public string Source { get; } = source;

    /// <summary>Rate-limit policies and the Redis connection of global ones.</summary>
    public RateLimiting.RateLimitSet RateLimits { get; init; } = RateLimiting.RateLimitSet.Empty;

    /// <summary>Authentication schemes (<c>authSchemes</c>): key sources, token caches and counters.</summary>
    public Identity.IdentitySet Identity { get; init; } = Turnpike.Identity.IdentitySet.Empty;

    /// <summary>Starts the clusters' active health checks; called once the snapshot is the current one.</summary>
    public void Start()
    {
        Identity.Start();
        foreach (var cluster in Clusters.Values)
        {
            cluster.Health.Start();
        }
    }

    /// <summary>Stops health checks and timers; requests still running on this snapshot finish normally.</summary>
    public void Dispose() => DisposeExcept(null);

    /// <summary>As <see cref="Dispose"/>, but leaves alone the cluster health that <paramref name="successor"/> carried over.</summary>
    public void DisposeExcept(GatewaySnapshot? successor)
    {
        RateLimits.DisposeExcept(successor?.RateLimits);
        Identity.DisposeExcept(successor?.Identity);
        foreach (var cluster in Clusters.Values)
        {
            if (successor is not null && successor.Clusters.TryGetValue(cluster.Id, out var next) && ReferenceEquals(next.Health, cluster.Health))
            {
                continue;
            }

            cluster.Health.Dispose();
        }
    }
}
