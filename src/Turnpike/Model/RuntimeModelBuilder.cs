using System.Collections.Frozen;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using Turnpike.Configuration;
using Turnpike.LoadBalancing;
using Turnpike.Retries;
using Turnpike.Routing;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Transforms.Builder;
using YarpRoute = Yarp.ReverseProxy.Configuration.RouteConfig;

namespace Turnpike.Model;

/// <summary>
/// Turns a validated <see cref="GatewayConfig"/> into a <see cref="GatewaySnapshot"/>. Upstream HTTP clients are
/// reused across reloads when a cluster's HTTP settings did not change, so connection pools survive a reload.
/// </summary>
internal sealed class RuntimeModelBuilder(ITransformBuilder transformBuilder, TimeProvider? timeProvider = null)
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly Dictionary<(string Cluster, UpstreamHttpConfig Http), HttpMessageInvoker> _invokers = [];
    private readonly Lock _lock = new();

    /// <summary>Checks each route's transforms with YARP's own validation, pointing errors at the transform in the file.</summary>
    public IReadOnlyList<ConfigError> ValidateTransforms(GatewayConfig config)
    {
        var errors = new List<ConfigError>();
        foreach (var route in config.Routes)
        {
            foreach (var transform in route.Transforms)
            {
                var probe = new YarpRoute { RouteId = route.Id, ClusterId = route.Cluster, Transforms = [transform] };
                foreach (var ex in transformBuilder.ValidateRoute(probe))
                {
                    var (location, field) = transform is TransformEntry entry ? (entry.Location, entry.Field) : (route.Location, $"routes.{route.Id}.transforms");
                    errors.Add(new ConfigError(location.File, location.Line, location.Column, field, ex.Message));
                }
            }
        }

        return errors;
    }

    public GatewaySnapshot Build(GatewayConfig config, long generation, string source)
    {
        lock (_lock)
        {
            var clusters = new Dictionary<string, ClusterModel>(StringComparer.Ordinal);
            var usedInvokers = new HashSet<(string, UpstreamHttpConfig)>();
            foreach (var c in config.Clusters)
            {
                var key = (c.Id, c.Http);
                usedInvokers.Add(key);
                if (!_invokers.TryGetValue(key, out var invoker))
                {
                    invoker = CreateInvoker(c.Http, c.Destinations.Any(d => Uri.CheckHostName(new Uri(d.Address).Host) == UriHostNameType.Dns));
                    _invokers[key] = invoker;
                }

                var destinations = LoadBalancingPolicyFactory.CreateDestinations(c, _time);
                var policy = LoadBalancingPolicyFactory.Create(c.LoadBalancing, destinations, _time);
                clusters[c.Id] = new ClusterModel(c, destinations, invoker, CreateRequestConfig(c), policy)
                {
                    RetryBudget = new RetryBudget(c.RetryBudget, _time),
                };
            }

            // Clients no longer referenced are dropped, not disposed: requests and WebSockets still running on the
            // previous snapshot keep using them, and their idle connections close through the idle timeout.
            foreach (var stale in _invokers.Keys.Where(k => !usedInvokers.Contains(k)).ToList())
            {
                _invokers.Remove(stale);
            }

            var routes = new List<RouteModel>(config.Routes.Count);
            foreach (var r in config.Routes)
            {
                var yarpRoute = new YarpRoute { RouteId = r.Id, ClusterId = r.Cluster, Transforms = r.Transforms };
                var transformer = transformBuilder.Build(yarpRoute, null);
                var cluster = clusters[r.Cluster];
                var retry = RetryPolicy.Create(r.Retry, cluster.Destinations.Length);
                if (retry.Configured)
                {
                    transformer = new RetryingTransformer(transformer, retry, cluster.RetryBudget, _time);
                }

                routes.Add(new RouteModel(r, new RouteMatcher(r.Match), cluster, transformer, retry));
            }

            return new GatewaySnapshot(generation, config, new RouteTable(routes), clusters.ToFrozenDictionary(StringComparer.Ordinal), source);
        }
    }

    private static ForwarderRequestConfig CreateRequestConfig(ClusterConfig c)
    {
        var h2 = c.Http.Version == "2";
        var anyCleartext = c.Destinations.Any(d => d.Address.StartsWith("http:", StringComparison.OrdinalIgnoreCase));
        return new ForwarderRequestConfig
        {
            ActivityTimeout = c.Http.ActivityTimeout,
            Version = h2 ? HttpVersion.Version20 : HttpVersion.Version11,
            // h2c needs prior knowledge: with "or lower" a cleartext HTTP/2 request would silently go out as HTTP/1.1.
            VersionPolicy = h2 && anyCleartext ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
            AllowResponseBuffering = false,
        };
    }

    internal static HttpMessageInvoker CreateInvoker(UpstreamHttpConfig http, bool resolvesNames)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = http.Http2MultipleConnections,
            ConnectTimeout = http.ConnectTimeout,
            PooledConnectionIdleTimeout = http.PooledConnectionIdleTimeout,
            // Recycling connections only matters when a destination is a DNS name that may change.
            PooledConnectionLifetime = resolvesNames ? http.DnsRefresh : Timeout.InfiniteTimeSpan,
            MaxConnectionsPerServer = http.MaxConnectionsPerDestination,
            // Tracing headers are the transforms' business, not the client's.
            ActivityHeadersPropagator = null,
        };
        if (http.DangerousAcceptAnyServerCertificate)
        {
            handler.SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = static (_, _, _, _) => true };
        }

        return new HttpMessageInvoker(handler, disposeHandler: true);
    }
}
