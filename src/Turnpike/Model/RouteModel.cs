using Turnpike.Configuration;
using Turnpike.Routing;
using Yarp.ReverseProxy.Forwarder;

namespace Turnpike.Model;

/// <summary>A route as the request path sees it: compiled matcher, the cluster it sends to and YARP's transformer.</summary>
internal sealed class RouteModel(RouteConfig config, RouteMatcher matcher, ClusterModel cluster, HttpTransformer transformer)
{
    public string Id { get; } = config.Id;

    public int Order { get; } = config.Order;

    public RouteConfig Config { get; } = config;

    public RouteMatcher Matcher { get; } = matcher;

    public ClusterModel Cluster { get; } = cluster;

    public HttpTransformer Transformer { get; } = transformer;

    /// <summary>
    /// Whether the request's route values must be filled: only YARP's PathPattern transform reads them, so other
    /// routes with parameters (a "/{**rest}" catch-all, say) skip the dictionary.
    /// </summary>
    public bool CapturesRouteValues { get; } = matcher.CapturesValues && config.Transforms.Any(t => t.ContainsKey("PathPattern"));
}
