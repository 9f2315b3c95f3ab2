using System.Net;
using Turnpike.Routing;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Turnpike.Configuration;

/// <summary>
/// Turns the YAML text of a configuration file into <see cref="GatewayConfig"/>, checking every key, type and
/// cross-reference in one pass. Every problem becomes a <see cref="ConfigError"/> naming file, line, column and field.
/// </summary>
public static partial class YamlConfigReader
{
    private static readonly string[] TopKeys = ["server", "listeners", "admin", "logging", "demo", "routes", "clusters", "rateLimits", "redis", "corsPolicies", "authSchemes", "tracing", "metrics"];
    private static readonly string[] ServerKeys = ["drainTimeout", "inlineScheduling", "limits", "connectionLimits"];
    private static readonly string[] LimitKeys =
    [
        "requestHeadersTimeout", "keepAliveTimeout", "maxRequestHeadersTotalSize", "maxRequestHeaderCount",
        "maxRequestLineSize", "maxRequestBodySize", "http2MaxStreamsPerConnection", "maxConcurrentConnections",
    ];
    private static readonly string[] ListenerKeys = ["address", "port", "protocols", "tls", "connectionLimits", "engine"];
    private static readonly string[] TlsKeys = ["certificate", "key"];
    private static readonly string[] AdminKeys = ["enabled", "address", "port", "token"];
    private static readonly string[] LoggingKeys = ["level", "accessLog"];
    private static readonly string[] AccessLogKeys = ["enabled", "path", "sampleRate", "flushInterval"];
    private static readonly string[] DemoKeys = ["address", "port"];
    private static readonly string[] RouteKeys = ["order", "match", "cluster", "transforms", "timeout", "retry", "bandwidth", "rateLimit", "cors", "auth"];
    private static readonly string[] RetryKeys = ["attempts", "on", "perTryTimeout", "backoff", "maxRetryAfter", "maxReplayBodySize", "nonIdempotent"];
    private static readonly string[] RetryOnKeywords = ["timeout", "reset"];
    private static readonly string[] BackoffKeys = ["base", "max"];
    private static readonly string[] MatchKeys = ["path", "pathPrefix", "hosts", "methods", "headers", "query"];
    private static readonly string[] ValueMatchKeys = ["name", "values", "mode", "caseSensitive"];
    private static readonly string[] ClusterKeys = ["destinations", "http", "loadBalancing", "healthCheck", "circuitBreaker", "retryBudget", "adaptiveConcurrency"];
    private static readonly string[] RetryBudgetKeys = ["ratio", "minPerSecond", "window"];
    private static readonly string[] LoadBalancingKeys = ["policy", "hashKey", "ewmaDecay"];
    private static readonly string[] HashKeyKeys = ["header", "cookie", "query", "clientIp"];
    private static readonly string[] DestinationKeys = ["address", "weight", "priority", "health"];
    private static readonly string[] HttpKeys =
    [
        "maxConnectionsPerDestination", "pooledConnectionIdleTimeout", "connectTimeout", "requestTimeout",
        "activityTimeout", "version", "http2MultipleConnections", "dnsRefresh", "dangerousAcceptAnyServerCertificate",
        "pooledConnectionLifetime", "keepAlivePingDelay", "keepAlivePingTimeout", "keepAlivePingPolicy", "noDelay",
        "maxResponseHeadersSize", "engine",
    ];

    /// <summary>SocketsHttpHandler rejects keep-alive PING delays and timeouts under one second.</summary>
    private static readonly TimeSpan MinimumPingInterval = TimeSpan.FromSeconds(1);

    private const long MaximumResponseHeadersSize = 16 * 1024 * 1024;

    public static ConfigLoadResult ReadFile(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return new ConfigLoadResult(null, [new ConfigError(path, 0, 0, "(file)", $"cannot read the file: {ex.Message}")]);
        }

        return Read(text, path);
    }

    public static ConfigLoadResult Read(string yaml, string fileName)
    {
        var sink = new ConfigErrorSink(fileName);
        YamlNode? root;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        }
        catch (YamlException ex)
        {
            var message = (ex.InnerException is { } inner && ex.Message.Contains("see inner exception", StringComparison.OrdinalIgnoreCase) ? inner.Message : ex.Message)
                .Split('\n')[0];
            // YamlDotNet prefixes messages with "(Line: x, Col: y, ...)"; the position is printed separately.
            var close = message.IndexOf("): ", StringComparison.Ordinal);
            if (message.StartsWith("(Line", StringComparison.Ordinal) && close > 0)
            {
                message = message[(close + 3)..];
            }

            return new ConfigLoadResult(null, [new ConfigError(fileName, (int)ex.Start.Line, (int)ex.Start.Column, "(syntax)", message)]);
        }

        if (root is null || root is YamlScalarNode { Value: null or "" })
        {
            return new ConfigLoadResult(null, [new ConfigError(fileName, 1, 1, "(document)", "the file is empty")]);
        }

        if (root is not YamlMappingNode rootMap)
        {
            sink.Add(root, "(document)", "the top level must be a mapping with keys such as listeners, routes and clusters");
            return new ConfigLoadResult(null, sink.Errors);
        }

        var top = new YamlSection(sink, rootMap, string.Empty, TopKeys);
        var clusters = ReadClusters(top);
        var clusterIds = new HashSet<string>(clusters.Select(c => c.Id), StringComparer.Ordinal);
        var server = ReadServer(top.Child("server", ServerKeys));
        var config = new GatewayConfig
        {
            Server = server,
            Listeners = ReadListeners(top, server.ConnectionLimits),
            Admin = ReadAdmin(top.Child("admin", AdminKeys)),
            Logging = ReadLogging(top.Child("logging", LoggingKeys)),
            Metrics = ReadMetrics(top.Child("metrics", MetricsKeys)),
            Demo = ReadDemo(top.Child("demo", DemoKeys)),
            Clusters = clusters,
            Routes = ReadRoutes(top, clusterIds),
            Tracing = ReadTracing(top.Child("tracing", TracingKeys)),
        };
        config = ReadRateLimiting(top, config);
        config = ReadCors(top, config);
        config = ReadIdentity(top, config);

        CheckPorts(top, config);
        return new ConfigLoadResult(config, sink.Errors);
    }

    private static ServerConfig ReadServer(YamlSection? s)
    {
        var d = new ServerConfig();
        if (s is null)
        {
            return d;
        }

        var limits = s.Child("limits", LimitKeys);
        var l = new LimitsConfig();
        if (limits is not null)
        {
            l = new LimitsConfig
            {
                RequestHeadersTimeout = limits.Duration("requestHeadersTimeout", l.RequestHeadersTimeout),
                KeepAliveTimeout = limits.Duration("keepAliveTimeout", l.KeepAliveTimeout),
                MaxRequestHeadersTotalSize = (int)limits.Size("maxRequestHeadersTotalSize", l.MaxRequestHeadersTotalSize, 1024, int.MaxValue),
                MaxRequestHeaderCount = limits.Int("maxRequestHeaderCount", l.MaxRequestHeaderCount, 1, 10_000),
                MaxRequestLineSize = (int)limits.Size("maxRequestLineSize", l.MaxRequestLineSize, 256, int.MaxValue),
                MaxRequestBodySize = limits.Size("maxRequestBodySize", l.MaxRequestBodySize, 0), // 0 = no limit
                Http2MaxStreamsPerConnection = limits.Int("http2MaxStreamsPerConnection", l.Http2MaxStreamsPerConnection, 1, 10_000),
                MaxConcurrentConnections = limits.Has("maxConcurrentConnections") ? limits.Int("maxConcurrentConnections", 0, 1) : null,
            };
        }

        return new ServerConfig
        {
            DrainTimeout = s.Duration("drainTimeout", d.DrainTimeout, allowZero: true),
            InlineScheduling = s.Bool("inlineScheduling", d.InlineScheduling),
            Limits = l,
            ConnectionLimits = ReadConnectionLimits(s.Child("connectionLimits", ConnectionLimitKeys), null),
        };
    }

    private static IReadOnlyList<ListenerConfig> ReadListeners(YamlSection top, ConnectionLimitsConfig? defaultConnectionLimits)
    {
        var list = new List<ListenerConfig>();
        foreach (var (name, keyNode, map, path) in top.MappingEntries("listeners", "address, port, protocols and tls"))
        {
            var s = new YamlSection(top.Sink, map, path, ListenerKeys);
            s.Require("port");
            var address = s.String("address", "127.0.0.1")!;
            if (!IsValidListenAddress(address))
            {
                s.Error("address", $"'{address}' is not an IP address, 'localhost' or '*'");
            }

            TlsConfig? tls = null;
            var tlsSection = s.Child("tls", TlsKeys);
            if (tlsSection is not null)
            {
                tlsSection.Require("certificate");
                tlsSection.Require("key");
                var cert = tlsSection.String("certificate");
                var key = tlsSection.String("key");
                CheckFileExists(tlsSection, "certificate", cert);
                CheckFileExists(tlsSection, "key", key);
                if (cert is not null && key is not null)
                {
                    tls = new TlsConfig { Certificate = ResolvePath(top.Sink.File, cert), Key = ResolvePath(top.Sink.File, key) };
                }
            }

            var protocols = ReadProtocols(s, tlsSection is not null);
            var engine = ReadEngine(s, protocols, tlsSection is not null);
            list.Add(new ListenerConfig
            {
                Name = name,
                Address = address,
                Port = s.Int("port", 0, 0, 65535),
                Protocols = protocols,
                Tls = tls,
                Engine = engine,
                ConnectionLimits = ReadConnectionLimits(s.Child("connectionLimits", ConnectionLimitKeys), defaultConnectionLimits),
                Location = s.Location,
            });
        }

        return list;
    }

    private static ListenerProtocols ReadProtocols(YamlSection s, bool tls)
    {
        // Without TLS there is no ALPN to choose between HTTP/1.1 and HTTP/2, so a cleartext listener speaks one of
        // them: http1 by default, or http2 (h2c with prior knowledge) when asked.
        var fallback = tls ? ListenerProtocols.Http1AndHttp2 : ListenerProtocols.Http1;
        ListenerProtocols protocols;
        if (s.Raw("protocols") is YamlSequenceNode)
        {
            bool h1 = false, h2 = false;
            foreach (var item in s.StringList("protocols"))
            {
                switch (item.ToLowerInvariant())
                {
                    case "http1" or "http/1.1" or "http1.1": h1 = true; break;
                    case "http2" or "h2" or "h2c": h2 = true; break;
                    default: s.Error("protocols", $"'{item}' is not a protocol (use http1, http2)"); break;
                }
            }

            protocols = h1 && h2 ? ListenerProtocols.Http1AndHttp2 : h2 ? ListenerProtocols.Http2 : h1 ? ListenerProtocols.Http1 : fallback;
        }
        else
        {
            protocols = s.Enum("protocols", fallback);
        }

        if (protocols == ListenerProtocols.Http1AndHttp2 && !tls)
        {
            s.Error("protocols", "HTTP/1.1 and HTTP/2 on one port need TLS (ALPN chooses between them); without tls use http1, or http2 for h2c");
        }

        return protocols;
    }

    private static AdminConfig ReadAdmin(YamlSection? s)
    {
        var d = new AdminConfig();
        if (s is null)
        {
            return d;
        }

        var address = s.String("address", d.Address)!;
        if (!IsValidListenAddress(address))
        {
            s.Error("address", $"'{address}' is not an IP address, 'localhost' or '*'");
        }

        return new AdminConfig
        {
            Enabled = s.Bool("enabled", d.Enabled),
            Address = address,
            Port = s.Int("port", d.Port, 0, 65535),
            Token = s.String("token"),
        };
    }

    private static LoggingConfig ReadLogging(YamlSection? s)
    {
        var d = new LoggingConfig();
        if (s is null)
        {
            return d;
        }

        var access = s.Child("accessLog", AccessLogKeys);
        var a = new AccessLogConfig();
        if (access is not null)
        {
            a = new AccessLogConfig
            {
                Enabled = access.Bool("enabled", true),
                Path = access.String("path", a.Path) is { } logPath && logPath != "stdout" ? ResolvePath(s.Sink.File, logPath) : "stdout",
                SampleRate = access.Double("sampleRate", a.SampleRate, 0, 1),
                FlushInterval = access.Duration("flushInterval", a.FlushInterval, allowZero: true),
            };
        }

        return new LoggingConfig { Level = s.Enum("level", d.Level), AccessLog = a };
    }

    private static DemoUpstreamConfig? ReadDemo(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var d = new DemoUpstreamConfig();
        return new DemoUpstreamConfig { Address = s.String("address", d.Address)!, Port = s.Int("port", d.Port, 0, 65535) };
    }

    private static IReadOnlyList<ClusterConfig> ReadClusters(YamlSection top)
    {
        var list = new List<ClusterConfig>();
        foreach (var (id, keyNode, map, path) in top.MappingEntries("clusters", "destinations and http settings"))
        {
            var s = new YamlSection(top.Sink, map, path, ClusterKeys);
            s.Require("destinations");
            var healthCheck = ReadHealthCheck(s.Child("healthCheck", HealthCheckKeys));
            var destinations = new List<DestinationConfig>();
            foreach (var (destId, _, destValue) in s.Entries("destinations"))
            {
                var destPath = YamlSection.Join(s.FieldPath("destinations"), destId);
                string? address;
                var weight = 1;
                var priority = 0;
                string? health = null;
                YamlSection? ds = null;
                if (destValue is YamlScalarNode scalar)
                {
                    // Short form: "d1: http://10.0.0.1:8080".
                    address = scalar.Value;
                }
                else if (destValue is YamlMappingNode destMap)
                {
                    ds = new YamlSection(top.Sink, destMap, destPath, DestinationKeys);
                    ds.Require("address");
                    address = ds.String("address");
                    weight = ds.Int("weight", 1, 0, 10_000);
                    priority = ds.Int("priority", 0, 0, 100);
                    health = ds.String("health");
                    if (health is not null && !health.StartsWith('/'))
                    {
                        ds.Error("health", $"'{health}' must be a path starting with '/'");
                    }
                    else if (health is not null && healthCheck.Active is null)
                    {
                        ds.Error("health", "a probe path only applies when the cluster has healthCheck.active");
                    }
                }
                else
                {
                    top.Sink.Add(destValue, destPath, "must be an address or a mapping with address, weight and health");
                    continue;
                }

                if (address is null)
                {
                    continue;
                }

                if (!Uri.TryCreate(address, UriKind.Absolute, out var uri) || (uri.Scheme != "http" && uri.Scheme != "https") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
                {
                    top.Sink.Add(ds?.Raw("address") ?? destValue, ds?.FieldPath("address") ?? destPath,
                        $"'{address}' is not an absolute http:// or https:// address without query");
                    continue;
                }

                destinations.Add(new DestinationConfig { Id = destId, Address = address, Weight = weight, Priority = priority, Health = health });
            }

            if (s.Has("destinations") && destinations.Count == 0 && !top.Sink.Errors.Any(e => e.Field.StartsWith(path, StringComparison.Ordinal)))
            {
                s.Error("destinations", "a cluster needs at least one destination");
            }

            list.Add(new ClusterConfig
            {
                Id = id,
                Destinations = destinations,
                Http = ReadClusterHttp(s.Child("http", HttpKeys), destinations),
                LoadBalancing = ReadLoadBalancing(s.Child("loadBalancing", LoadBalancingKeys)),
                HealthCheck = healthCheck,
                CircuitBreaker = ReadCircuitBreaker(s.Child("circuitBreaker", CircuitBreakerKeys)),
                RetryBudget = ReadRetryBudget(s.Child("retryBudget", RetryBudgetKeys)),
                AdaptiveConcurrency = ReadAdaptiveConcurrency(s.Child("adaptiveConcurrency", AdaptiveConcurrencyKeys)),
                Location = s.Location,
            });
        }

        return list;
    }

    private static LoadBalancingConfig ReadLoadBalancing(YamlSection? s)
    {
        var d = new LoadBalancingConfig();
        if (s is null)
        {
            return d;
        }

        var policy = d.Policy;
        var names = Enum.GetValues<LoadBalancingPolicyKind>().Select(SnakeCase).ToArray();
        if (s.String("policy") is { } text)
        {
            var index = Array.IndexOf(names, text.Trim().ToLowerInvariant());
            if (index >= 0)
            {
                policy = (LoadBalancingPolicyKind)index;
            }
            else
            {
                var suggestion = Suggestions.Closest(text, names);
                s.Error("policy", $"'{text}' is not one of: {string.Join(", ", names)}" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
            }
        }

        var hashKey = d.HashKey;
        if (s.Raw("hashKey") is YamlScalarNode { Value: "clientIp" })
        {
            hashKey = new HashKeyConfig { Source = HashKeySource.ClientIp };
        }
        else if (s.Child("hashKey", HashKeyKeys) is { } h)
        {
            var given = HashKeyKeys.Where(h.Has).ToArray();
            if (given.Length != 1)
            {
                h.Sink.Add(h.Node, h.Path, "give exactly one of header, cookie, query or clientIp");
            }
            else if (given[0] == "clientIp")
            {
                hashKey = new HashKeyConfig { Source = HashKeySource.ClientIp };
            }
            else
            {
                var name = h.String(given[0]);
                if (string.IsNullOrWhiteSpace(name))
                {
                    h.Error(given[0], "needs a name");
                }

                hashKey = new HashKeyConfig
                {
                    Source = given[0] switch { "header" => HashKeySource.Header, "cookie" => HashKeySource.Cookie, _ => HashKeySource.Query },
                    Name = name,
                };
            }
        }

        if (s.Has("hashKey") && policy != LoadBalancingPolicyKind.ConsistentHash)
        {
            s.Error("hashKey", "only applies to policy consistent_hash");
        }

        return new LoadBalancingConfig { Policy = policy, HashKey = hashKey, EwmaDecay = s.Duration("ewmaDecay", d.EwmaDecay) };
    }

    /// <summary>"P2cEwma" → "p2c_ewma", "RoundRobin" → "round_robin".</summary>
    internal static string SnakeCase(LoadBalancingPolicyKind kind)
    {
        var name = kind.ToString();
        var builder = new System.Text.StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                builder.Append('_');
            }

            builder.Append(char.ToLowerInvariant(name[i]));
        }

        return builder.ToString();
    }

    /// <summary><c>engine: raw</c> speaks plain HTTP/1.1 only: no https:// destination (TLS stays with the YARP engine).</summary>
    private static UpstreamHttpConfig ReadClusterHttp(YamlSection? s, List<DestinationConfig> destinations)
    {
        var http = ReadUpstreamHttp(s);
        if (http.Engine == UpstreamEngine.Raw && destinations.Find(d => !d.Address.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) is { } tls)
        {
            s!.Error("engine", $"'raw' needs http:// destinations; '{tls.Address}' is https:// (use engine: yarp for TLS upstreams)");
        }

        return http;
    }

    private static UpstreamHttpConfig ReadUpstreamHttp(YamlSection? s)
    {
        var d = new UpstreamHttpConfig();
        if (s is null)
        {
            return d;
        }

        var version = s.String("version", d.Version)!;
        if (version is not ("1.1" or "2" or "2.0"))
        {
            s.Error("version", $"'{version}' is not a supported upstream HTTP version (use \"1.1\" or \"2\")");
            version = d.Version;
        }

        version = version == "2.0" ? "2" : version;
        if (version != "2")
        {
            foreach (var key in (ReadOnlySpan<string>)["keepAlivePingDelay", "keepAlivePingTimeout", "keepAlivePingPolicy"])
            {
                if (s.Has(key))
                {
                    s.Error(key, "only applies to version \"2\" (HTTP/1.1 has no PINGs)");
                }
            }
        }

        UpstreamEngine? engine = s.Has("engine") ? s.Enum("engine", UpstreamEngine.Yarp) : null;
        if (engine == UpstreamEngine.Raw && version == "2")
        {
            s.Error("engine", "'raw' speaks HTTP/1.1 to the upstream; it cannot be combined with version \"2\" (use engine: yarp)");
        }

        TimeSpan? lifetime = s.Has("pooledConnectionLifetime") ? s.Duration("pooledConnectionLifetime", TimeSpan.Zero, allowZero: true) : null;
        var pingDelay = s.Duration("keepAlivePingDelay", d.KeepAlivePingDelay, allowZero: true);
        if (pingDelay > TimeSpan.Zero && pingDelay < MinimumPingInterval)
        {
            s.Error("keepAlivePingDelay", $"{pingDelay.TotalMilliseconds}ms is below the minimum of 1s (0 disables PINGs)");
            pingDelay = d.KeepAlivePingDelay;
        }

        var pingTimeout = s.Duration("keepAlivePingTimeout", d.KeepAlivePingTimeout);
        if (pingTimeout < MinimumPingInterval)
        {
            s.Error("keepAlivePingTimeout", $"{pingTimeout.TotalMilliseconds}ms is below the minimum of 1s");
            pingTimeout = d.KeepAlivePingTimeout;
        }

        return new UpstreamHttpConfig
        {
            MaxConnectionsPerDestination = s.Int("maxConnectionsPerDestination", d.MaxConnectionsPerDestination, 1),
            PooledConnectionIdleTimeout = s.Duration("pooledConnectionIdleTimeout", d.PooledConnectionIdleTimeout),
            ConnectTimeout = s.Duration("connectTimeout", d.ConnectTimeout),
            RequestTimeout = s.Duration("requestTimeout", d.RequestTimeout, allowZero: true),
            ActivityTimeout = s.Duration("activityTimeout", d.ActivityTimeout),
            Version = version,
            Http2MultipleConnections = s.Bool("http2MultipleConnections", d.Http2MultipleConnections),
            DnsRefresh = s.Duration("dnsRefresh", d.DnsRefresh),
            PooledConnectionLifetime = lifetime,
            KeepAlivePingDelay = pingDelay,
            KeepAlivePingTimeout = pingTimeout,
            KeepAlivePingPolicy = s.Enum("keepAlivePingPolicy", d.KeepAlivePingPolicy),
            NoDelay = s.Bool("noDelay", d.NoDelay),
            MaxResponseHeadersSize = s.Size("maxResponseHeadersSize", d.MaxResponseHeadersSize, 1024, MaximumResponseHeadersSize),
            DangerousAcceptAnyServerCertificate = s.Bool("dangerousAcceptAnyServerCertificate", false),
            Engine = engine,
        };
    }

    private static IReadOnlyList<RouteConfig> ReadRoutes(YamlSection top, HashSet<string> clusterIds)
    {
        var list = new List<RouteConfig>();
        foreach (var (id, keyNode, map, path) in top.MappingEntries("routes", "match, cluster and transforms"))
        {
            var s = new YamlSection(top.Sink, map, path, RouteKeys);
            s.Require("match");
            s.Require("cluster");
            var cluster = s.String("cluster");
            if (cluster is not null && !clusterIds.Contains(cluster))
            {
                var suggestion = Suggestions.Closest(cluster, clusterIds);
                s.Error("cluster", $"cluster '{cluster}' is not defined" + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
            }

            var match = ReadMatch(s.Child("match", MatchKeys));
            var transforms = ReadTransforms(s);
            var order = s.Int("order", 0);
            TimeSpan? timeout = s.Has("timeout") ? s.Duration("timeout", TimeSpan.Zero, allowZero: true) : null;
            var retry = ReadRetry(s.Child("retry", RetryKeys), timeout);
            var bandwidth = ReadBandwidth(s.Child("bandwidth", BandwidthKeys));
            if (match is null || cluster is null)
            {
                continue;
            }

            list.Add(new RouteConfig
            {
                Id = id,
                Order = order,
                Match = match,
                Cluster = cluster,
                Transforms = transforms,
                Timeout = timeout,
                Retry = retry,
                Bandwidth = bandwidth,
                RateLimits = s.StringList("rateLimit"),
                Cors = s.String("cors"),
                Location = top.Sink.LocationOf(keyNode),
            });
        }

        return list;
    }

    private static RouteRetryConfig? ReadRetry(YamlSection? s, TimeSpan? routeTimeout)
    {
        if (s is null)
        {
            return null;
        }

        var d = new RouteRetryConfig();
        var statuses = d.Statuses;
        bool onTimeout = d.OnTimeout, onReset = d.OnReset;
        if (s.Has("on"))
        {
            var list = new List<int>();
            foreach (var item in s.StringList("on"))
            {
                var text = item.Trim();
                if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var status))
                {
                    if (status is < 400 or > 599)
                    {
                        s.Error("on", $"status {status} is out of range [400, 599]");
                    }
                    else if (!list.Contains(status))
                    {
                        list.Add(status);
                    }
                }
                else if (text == "timeout")
                {
                    onTimeout = true;
                }
                else if (text == "reset")
                {
                    onReset = true;
                }
                else
                {
                    var suggestion = Suggestions.Closest(text, RetryOnKeywords);
                    s.Error("on", $"'{text}' is not a status (400-599) or one of: {string.Join(", ", RetryOnKeywords)}"
                        + (suggestion is null ? string.Empty : $"; did you mean '{suggestion}'?"));
                }
            }

            statuses = list;
        }

        var backoff = d.Backoff;
        if (s.Child("backoff", BackoffKeys) is { } b)
        {
            var baseDelay = b.Duration("base", backoff.Base);
            // As Envoy: without an explicit max, the cap is ten times the base.
            var maxDelay = b.Duration("max", b.Has("base") ? baseDelay * 10 : backoff.Max);
            if (maxDelay < baseDelay)
            {
                b.Error("max", $"must be at least base ({FormatDuration(baseDelay)})");
                maxDelay = baseDelay;
            }

            backoff = new RetryBackoffConfig { Base = baseDelay, Max = maxDelay };
        }

        var perTry = s.Duration("perTryTimeout", d.PerTryTimeout, allowZero: true);
        if (perTry > TimeSpan.Zero && routeTimeout > TimeSpan.Zero && perTry > routeTimeout)
        {
            s.Error("perTryTimeout", $"must not be longer than the route's timeout ({FormatDuration(routeTimeout.Value)})");
        }

        return new RouteRetryConfig
        {
            Attempts = s.Int("attempts", d.Attempts, 1, RouteRetryConfig.MaxAttemptsLimit),
            Statuses = statuses,
            OnTimeout = onTimeout,
            OnReset = onReset,
            PerTryTimeout = perTry,
            Backoff = backoff,
            MaxRetryAfter = s.Duration("maxRetryAfter", d.MaxRetryAfter, allowZero: true),
            MaxReplayBodySize = s.Size("maxReplayBodySize", d.MaxReplayBodySize, 0, RouteRetryConfig.MaxReplayBodySizeLimit),
            NonIdempotent = s.Bool("nonIdempotent", d.NonIdempotent),
        };
    }

    private static RetryBudgetConfig ReadRetryBudget(YamlSection? s)
    {
        var d = new RetryBudgetConfig();
        if (s is null)
        {
            return d;
        }

        var window = s.Duration("window", d.Window);
        if (window < TimeSpan.FromSeconds(1) || window > TimeSpan.FromHours(1))
        {
            s.Error("window", $"{FormatDuration(window)} is out of range [1s, 1h]");
            window = d.Window;
        }

        return new RetryBudgetConfig
        {
            Ratio = s.Double("ratio", d.Ratio, 0, 10),
            MinPerSecond = s.Int("minPerSecond", d.MinPerSecond, 0, 100_000),
            Window = window,
        };
    }

    private static string FormatDuration(TimeSpan value) =>
        value.TotalMilliseconds < 1000 || value.Milliseconds != 0
            ? $"{value.TotalMilliseconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}ms"
            : $"{value.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}s";

    private static RouteMatchConfig? ReadMatch(YamlSection? s)
    {
        if (s is null)
        {
            return null;
        }

        var pathTemplate = s.String("path");
        var prefix = s.String("pathPrefix");
        var hosts = s.StringList("hosts");
        if (pathTemplate is null && prefix is null && hosts.Count == 0)
        {
            s.Sink.Add(s.Node, s.Path, "a match needs at least one of path, pathPrefix or hosts (use path: /{**rest} to match everything)");
        }

        if (pathTemplate is not null && prefix is not null)
        {
            s.Error("pathPrefix", "use either path or pathPrefix, not both");
        }

        if (pathTemplate is not null && !PathTemplate.TryParse(pathTemplate, out _, out var templateError))
        {
            s.Error("path", templateError!);
        }

        if (prefix is not null && (!prefix.StartsWith('/') || prefix.Contains('{', StringComparison.Ordinal)))
        {
            s.Error("pathPrefix", $"'{prefix}' must start with '/' and contain no '{{'");
        }

        foreach (var host in hosts)
        {
            if (!HostMatcher.IsValidPattern(host))
            {
                s.Error("hosts", $"'{host}' is not a host name, '*.domain' wildcard or host:port");
            }
        }

        var methods = s.StringList("methods");
        foreach (var method in methods)
        {
            if (method.Length == 0 || !method.All(c => char.IsAsciiLetterUpper(c) || c == '-'))
            {
                s.Error("methods", $"'{method}' is not an HTTP method (use upper case, e.g. GET)");
            }
        }

        return new RouteMatchConfig
        {
            Path = pathTemplate,
            PathPrefix = prefix?.Length > 1 ? prefix.TrimEnd('/') : prefix,
            Hosts = hosts,
            Methods = methods,
            Headers = ReadValueMatches(s, "headers", static (name, values, mode, cs) => new HeaderMatchConfig { Name = name, Values = values, Mode = mode, CaseSensitive = cs }),
            Query = ReadValueMatches(s, "query", static (name, values, mode, cs) => new QueryMatchConfig { Name = name, Values = values, Mode = mode, CaseSensitive = cs }),
        };
    }

    private static IReadOnlyList<T> ReadValueMatches<T>(YamlSection s, string key, Func<string, IReadOnlyList<string>, ValueMatchMode, bool, T> create)
    {
        var list = new List<T>();
        var items = s.Sequence(key);
        for (var i = 0; i < items.Count; i++)
        {
            var path = $"{s.FieldPath(key)}[{i}]";
            if (items[i] is not YamlMappingNode map)
            {
                s.Sink.Add(items[i], path, "must be a mapping with name, values and mode");
                continue;
            }

            var m = new YamlSection(s.Sink, map, path, ValueMatchKeys);
            m.Require("name");
            var name = m.String("name");
            var values = m.StringList("values");
            var mode = m.Enum("mode", values.Count == 0 ? ValueMatchMode.Exists : ValueMatchMode.Exact);
            if (values.Count == 0 && mode is not (ValueMatchMode.Exists or ValueMatchMode.NotExists))
            {
                m.Error("values", $"mode '{mode}' needs at least one value");
            }

            var caseSensitive = m.Bool("caseSensitive", false);
            if (name is not null)
            {
                list.Add(create(name, values, mode, caseSensitive));
            }
        }

        return list;
    }

    private static IReadOnlyList<IReadOnlyDictionary<string, string>> ReadTransforms(YamlSection s)
    {
        var list = new List<IReadOnlyDictionary<string, string>>();
        var items = s.Sequence("transforms");
        for (var i = 0; i < items.Count; i++)
        {
            var path = $"{s.FieldPath("transforms")}[{i}]";
            if (items[i] is not YamlMappingNode map)
            {
                s.Sink.Add(items[i], path, "must be a mapping such as { pathRemovePrefix: /api } or { requestHeader: X-A, set: v }");
                continue;
            }

            var dict = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (k, v) in map.Children)
            {
                if (k is YamlScalarNode { Value: { } key } && v is YamlScalarNode { Value: var value })
                {
                    // YARP's transform names are PascalCase; YAML keys here are camelCase by convention.
                    dict[key.Length > 0 ? char.ToUpperInvariant(key[0]) + key[1..] : key] = value ?? string.Empty;
                }
                else
                {
                    s.Sink.Add(k, path, "transform parameters must be plain key: value strings");
                }
            }

            list.Add(new TransformEntry(dict, s.Sink.LocationOf(map), path));
        }

        return list;
    }

    private static void CheckPorts(YamlSection top, GatewayConfig config)
    {
        if (config.Listeners.Count == 0 && !top.Sink.Errors.Any(e => e.Field.StartsWith("listeners", StringComparison.Ordinal)))
        {
            top.Sink.Add(top.LocationOf("listeners"), "listeners", "at least one listener is required (for example listeners: { public: { port: 8080 } })");
        }

        var bound = new List<(string Address, int Port, string Owner)>();
        void Claim(string address, int port, string owner, string field, ConfigLocation location)
        {
            if (port == 0)
            {
                return;
            }

            foreach (var (otherAddress, otherPort, otherOwner) in bound)
            {
                if (otherPort == port && (otherAddress == address || IsAnyAddress(otherAddress) || IsAnyAddress(address)))
                {
                    top.Sink.Add(location, field, $"port {port} on {address} is already used by {otherOwner}");
                    return;
                }
            }

            bound.Add((address, port, owner));
        }

        foreach (var l in config.Listeners)
        {
            Claim(l.Address, l.Port, $"listener '{l.Name}'", $"listeners.{l.Name}.port", l.Location);
        }

        if (config.Admin.Enabled)
        {
            Claim(config.Admin.Address, config.Admin.Port, "the admin listener", "admin.port", top.LocationOf("admin"));
        }

        if (config.Demo is { } demo)
        {
            Claim(demo.Address, demo.Port, "the demo upstream", "demo.port", top.LocationOf("demo"));
        }
    }

    private static bool IsAnyAddress(string address) => address is "*" or "0.0.0.0" or "::";

    private static void CheckFileExists(YamlSection s, string key, string? path)
    {
        if (path is not null && !File.Exists(ResolvePath(s.Sink.File, path)))
        {
            s.Error(key, $"file '{path}' does not exist");
        }
    }

    /// <summary>Relative paths in a config file are relative to the file's folder.</summary>
    internal static string ResolvePath(string configFile, string path)
    {
        if (Path.IsPathRooted(path) || configFile.StartsWith('<'))
        {
            return path;
        }

        var dir = Path.GetDirectoryName(Path.GetFullPath(configFile));
        return dir is null ? path : Path.GetFullPath(Path.Combine(dir, path));
    }

    private static bool IsValidListenAddress(string address) =>
        address is "*" or "localhost" || IPAddress.TryParse(address, out _);
}

/// <summary>One transform's parameters plus where it was written, so YARP's validation errors can point at it.</summary>
public sealed class TransformEntry(Dictionary<string, string> values, ConfigLocation location, string field)
    : System.Collections.ObjectModel.ReadOnlyDictionary<string, string>(values)
{
    public ConfigLocation Location { get; } = location;

    public string Field { get; } = field;
}
