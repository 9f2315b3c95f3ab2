using Turnpike.Configuration;
using Turnpike.Retries;
using Turnpike.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Model;

/// <summary>A route as the request path sees it: compiled matcher, the cluster it sends to, YARP's transformer (wrapped
/// by a <see cref="RetryingTransformer"/> when the route has a <c>retry</c> block) and its retry rules.</summary>
internal sealed class RouteModel(RouteConfig config, RouteMatcher matcher, ClusterModel cluster, HttpTransformer transformer, RetryPolicy retry)
{
    public string Id { get; } = config.Id;

    public int Order { get; } = config.Order;

    public RouteConfig Config { get; } = config;

    public RouteMatcher Matcher { get; } = matcher;

    public ClusterModel Cluster { get; } = cluster;

    public HttpTransformer Transformer { get; } = transformer;

    public RetryPolicy Retry { get; } = retry;

    /// <summary>The label sets of this route's request metrics, reused by every request.</summary>
    public Observability.RequestMetricTags MetricTags { get; } = new(config.Id, cluster.Id);

    /// <summary>Response-body bandwidth shaping; null (and free) when the route has no <c>bandwidth</c> block.</summary>
    public Bandwidth.BandwidthPolicy? Bandwidth { get; init; }
    /// <summary>The route's rate-limit policies; null when it has none (the request path then skips the check).</summary>
    public RateLimiting.RouteRateLimits? RateLimits { get; init; }
    /// <summary>The route's CORS policy; null when it has no <c>cors</c> (the request path then skips the step).</summary>
    public Cors.CorsPolicy? Cors { get; init; }
    /// <summary>Authentication and authorization; null when the route has no <c>auth</c> block (one null check per request).</summary>
    public Identity.RouteAuth? Auth { get; init; }

    /// <summary>
    /// Whether a request goes straight from the header check to forwarding: the route has no CORS, auth or rate-limit
    /// step. The measured fast path relies on it, so a new step before forwarding belongs in this list.
    /// </summary>
    public bool ForwardsDirectly => Cors is null && Auth is null && RateLimits is null;

    /// <summary>Limit on the whole exchange (retries and backoff included): the route's <c>timeout</c>, else the
    /// cluster's <c>http.requestTimeout</c>; <see cref="TimeSpan.Zero"/> when off.</summary>
    public TimeSpan RequestTimeout { get; } = config.Timeout ?? cluster.RequestTimeout;

    /// <summary>
    /// Whether the request's route values must be filled: only YARP's PathPattern transform reads them, so other
    /// routes with parameters (a "/{**rest}" catch-all, say) skip the dictionary.
    /// </summary>
    public bool CapturesRouteValues { get; } = matcher.CapturesValues && config.Transforms.Any(t => t.ContainsKey("PathPattern"));
}
