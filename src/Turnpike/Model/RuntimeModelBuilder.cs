using System.Collections.Frozen;
using System.Net;
using System.Net.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Turnpike.Configuration;
using Turnpike.Connections;
using Turnpike.Health;
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
internal sealed class RuntimeModelBuilder(
    ITransformBuilder transformBuilder,
    TimeProvider? timeProvider = null,
    UpstreamClientFactory? clientFactory = null,
    ILoggerFactory? loggerFactory = null) : IDisposable
{
    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;
    private readonly UpstreamClientFactory _clients = clientFactory ?? UpstreamClientFactory.Default;
    private readonly ILogger _healthLogger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Turnpike.Health");
    private readonly ILogger _rateLimitLogger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Turnpike.RateLimiting");
    private readonly ILogger _identityLogger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("Turnpike.Identity");
    // Whether a cluster has host-name destinations is part of the key: it decides the DNS cache and connection lifetime.
    private readonly Dictionary<(string Cluster, UpstreamHttpConfig Http, bool ResolvesNames), HttpMessageInvoker> _invokers = [];
    private readonly Dictionary<(string Cluster, UpstreamHttpConfig Http, bool ResolvesNames), Http1.Client.Http1ConnectionPool> _rawPools = [];
    private readonly Lock _lock = new();

    /// <summary>
    /// The engine of clusters that do not set <c>http.engine</c> and could use the raw one (http:// destinations,
    /// HTTP/1.1); null keeps YARP. A test seam (<c>TURNPIKE_TEST_UPSTREAM_ENGINE</c>), applied at every load.
    /// </summary>
    internal UpstreamEngine? DefaultUpstreamEngine { get; set; }

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

    /// <summary>
    /// Builds the model for <paramref name="config"/>. A cluster whose destinations, HTTP, balancing and health
    /// settings are unchanged from <paramref name="previous"/> keeps its destinations and health state (probe
    /// verdicts, ejections, open breakers, balancing counters, in-flight counts), so a reload neither forgets a dead
    /// backend nor resets least-connections accounting.
    /// </summary>
    public GatewaySnapshot Build(GatewayConfig config, long generation, string source, GatewaySnapshot? previous = null)
    {
        lock (_lock)
        {
            var clusters = new Dictionary<string, ClusterModel>(StringComparer.Ordinal);
            var usedInvokers = new HashSet<(string, UpstreamHttpConfig, bool)>();
            var usedRawPools = new HashSet<(string, UpstreamHttpConfig, bool)>();
            foreach (var c in config.Clusters)
            {
                var resolvesNames = c.Destinations.Any(d => Uri.CheckHostName(new Uri(d.Address).Host) == UriHostNameType.Dns);
                var key = (c.Id, c.Http, resolvesNames);
                usedInvokers.Add(key);
                if (!_invokers.TryGetValue(key, out var invoker))
                {
                    invoker = _clients.CreateInvoker(c.Http, resolvesNames);
                    _invokers[key] = invoker;
                }

                var rawPool = RawPoolFor(c, key);
                if (rawPool is not null)
                {
                    usedRawPools.Add(key);
                }

                var requestConfig = CreateRequestConfig(c);
                if (previous is not null && previous.Clusters.TryGetValue(c.Id, out var old) && ReferenceEquals(old.Invoker, invoker) && SameUpstreams(old.Config, c))
                {
                    clusters[c.Id] = new ClusterModel(c, old.Destinations, invoker, requestConfig, old.Health)
                    {
                        RawPool = rawPool,
                        RetryBudget = c.RetryBudget == old.Config.RetryBudget ? old.RetryBudget : new RetryBudget(c.RetryBudget, _time),
                        Concurrency = c.AdaptiveConcurrency == old.Config.AdaptiveConcurrency ? old.Concurrency : CreateLimiter(c),
                    };
                    continue;
                }

                var destinations = LoadBalancingPolicyFactory.CreateDestinations(c, _time);
                var lb = c.LoadBalancing;
                var time = _time;
                var health = new ClusterHealth(
                    c,
                    destinations,
                    eligible => LoadBalancingPolicyFactory.Create(lb, eligible, time),
                    _time,
                    _healthLogger,
                    active => new HttpHealthProbe(invoker, active, requestConfig.Version!, requestConfig.VersionPolicy!.Value));
                if (previous is not null && previous.Clusters.TryGetValue(c.Id, out var rebuilt))
                {
                    // A drain (admin API) is an operator's decision, not health state: it outlives the rebuild.
                    foreach (var id in rebuilt.Health.DrainedIds())
                    {
                        health.SetDrained(id, drained: true, log: false);
                    }
                }

                clusters[c.Id] = new ClusterModel(c, destinations, invoker, requestConfig, health)
                {
                    RawPool = rawPool,
                    RetryBudget = new RetryBudget(c.RetryBudget, _time),
                    Concurrency = CreateLimiter(c),
                };
            }

            // Clients no longer referenced are dropped, not disposed: requests and WebSockets still running on the
            // previous snapshot keep using them, and their idle connections close through the idle timeout.
            foreach (var stale in _invokers.Keys.Where(k => !usedInvokers.Contains(k)).ToList())
            {
                _invokers.Remove(stale);
            }

            // Raw pools no longer referenced close their idle connections now; busy ones close when their request ends.
            foreach (var (stale, pool) in _rawPools.Where(p => !usedRawPools.Contains(p.Key)).ToList())
            {
                _rawPools.Remove(stale);
                pool.Dispose();
            }

            var rateLimits = RateLimiting.RateLimitSet.Build(config, previous?.RateLimits, _time, _rateLimitLogger);
            var corsPolicies = config.CorsPolicies.ToDictionary(p => p.Name, p => new Cors.CorsPolicy(p), StringComparer.Ordinal);
            var identity = Identity.IdentitySet.Build(config, previous?.Identity, _time, _identityLogger);
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

                if (cluster.Concurrency is not null)
                {
                    transformer = new Concurrency.HeadersTimingTransformer(transformer, _time);
                }

                var cors = r.Cors is { } corsName ? corsPolicies.GetValueOrDefault(corsName) : null;
                routes.Add(new RouteModel(r, new RouteMatcher(r.Match, corsPreflight: cors is not null), cluster, transformer, retry)
                {
                    Cors = cors,
                    Bandwidth = r.Bandwidth is { } bandwidth ? new Bandwidth.BandwidthPolicy(bandwidth, _time) : null,
                    RateLimits = RateLimiting.RouteRateLimitsFactory.Create(r, rateLimits),
                    Auth = r.Auth is { } auth ? new Identity.RouteAuth(auth, identity) : null,
                });
            }

            return new GatewaySnapshot(generation, config, new RouteTable(routes), clusters.ToFrozenDictionary(StringComparer.Ordinal), source)
            {
                RateLimits = rateLimits,
                Identity = identity,
            };
        }
    }

    /// <summary>Closes the raw engine's pools (their idle connections and sweep timers) when the gateway's services are disposed.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var pool in _rawPools.Values)
            {
                pool.Dispose();
            }

            _rawPools.Clear();
        }
    }

    /// <summary>The cluster's raw HTTP/1.1 pools when it uses that engine (set, or the default seam for an eligible cluster); else null.</summary>
    private Http1.Client.Http1ConnectionPool? RawPoolFor(ClusterConfig c, (string Cluster, UpstreamHttpConfig Http, bool ResolvesNames) key)
    {
        var raw = c.Http.Engine switch
        {
            UpstreamEngine.Raw => true,
            null => DefaultUpstreamEngine == UpstreamEngine.Raw && c.Http.Version == "1.1"
                && c.Destinations.All(d => d.Address.StartsWith("http://", StringComparison.OrdinalIgnoreCase)),
            _ => false,
        };
        if (!raw)
        {
            return null;
        }

        if (!_rawPools.TryGetValue(key, out var pool))
        {
            pool = new Http1.Client.Http1ConnectionPool(c.Http, key.ResolvesNames, _clients.CreateConnector(c.Http), _time);
            _rawPools[key] = pool;
        }

        return pool;
    }

    private Concurrency.AdaptiveConcurrencyLimiter? CreateLimiter(ClusterConfig c) =>
        c.AdaptiveConcurrency is { } adaptive ? new Concurrency.AdaptiveConcurrencyLimiter(adaptive, _time) : null;

    /// <summary>Same destinations in the same order, and the same balancing and health settings.</summary>
    private static bool SameUpstreams(ClusterConfig a, ClusterConfig b) =>
        a.Destinations.SequenceEqual(b.Destinations) && a.LoadBalancing == b.LoadBalancing && a.HealthCheck == b.HealthCheck && a.CircuitBreaker == b.CircuitBreaker;

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
}
