namespace Turnpike.Configuration;

/// <summary>The whole configuration file, as typed immutable records. Built by <see cref="YamlConfigReader"/>.</summary>
public sealed record GatewayConfig
{
    public ServerConfig Server { get; init; } = new();
    public IReadOnlyList<ListenerConfig> Listeners { get; init; } = [];
    public AdminConfig Admin { get; init; } = new();
    public LoggingConfig Logging { get; init; } = new();
    /// <summary>Prometheus metrics on the admin listener (<c>metrics</c>).</summary>
    public MetricsConfig Metrics { get; init; } = new();
    public DemoUpstreamConfig? Demo { get; init; }
    public IReadOnlyList<RouteConfig> Routes { get; init; } = [];
    public IReadOnlyList<ClusterConfig> Clusters { get; init; } = [];
    /// <summary>Named rate-limit policies (<c>rateLimits</c>), referenced by routes' <c>rateLimit</c>.</summary>
    public IReadOnlyList<RateLimitPolicyConfig> RateLimits { get; init; } = [];
    /// <summary>The Redis server of global rate-limit policies; null when not configured.</summary>
    public RedisConfig? Redis { get; init; }
    /// <summary>Named CORS policies (<c>corsPolicies</c>), referenced by routes' <c>cors</c>.</summary>
    public IReadOnlyList<CorsPolicyConfig> CorsPolicies { get; init; } = [];
    /// <summary>Named authentication schemes (<c>authSchemes</c>), referenced by routes' <c>auth.schemes</c>.</summary>
    public IReadOnlyList<AuthSchemeConfig> AuthSchemes { get; init; } = [];
    /// <summary>OpenTelemetry tracing (<c>tracing</c>); off by default.</summary>
    public TracingConfig Tracing { get; init; } = new();
}

public sealed record ServerConfig
{
    /// <summary>How long in-flight requests may run after SIGTERM before the process exits.</summary>
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Run request continuations inline on the socket thread (Kestrel UnsafePreferInlineScheduling + inline socket completions).</summary>
    public bool InlineScheduling { get; init; } = true;
    public LimitsConfig Limits { get; init; } = new();
    /// <summary>Default connection limits for every listener (<c>server.connectionLimits</c>); null when absent.</summary>
    public ConnectionLimitsConfig? ConnectionLimits { get; init; }
}

public sealed record LimitsConfig
{
    public TimeSpan RequestHeadersTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan KeepAliveTimeout { get; init; } = TimeSpan.FromSeconds(75);
    public int MaxRequestHeadersTotalSize { get; init; } = 32 * 1024;
    public int MaxRequestHeaderCount { get; init; } = 100;
    public int MaxRequestLineSize { get; init; } = 8 * 1024;
    /// <summary>Largest request body in bytes; 0 means no limit (as nginx's client_max_body_size 0).</summary>
    public long MaxRequestBodySize { get; init; } = 10 * 1024 * 1024;
    public int Http2MaxStreamsPerConnection { get; init; } = 100;
    public int? MaxConcurrentConnections { get; init; }
}

public enum ListenerProtocols
{
    Http1,
    Http2,
    Http1AndHttp2,
}

/// <summary>The HTTP server of a listener: Kestrel, or Turnpike's own raw-socket HTTP/1.1 server.</summary>
public enum ListenerEngine
{
    Kestrel,
    Raw,
}

public sealed record ListenerConfig
{
    public required string Name { get; init; }
    public string Address { get; init; } = "127.0.0.1";
    public int Port { get; init; }
    /// <summary>Defaults to http1 without TLS and http1AndHttp2 (ALPN) with TLS.</summary>
    public ListenerProtocols Protocols { get; init; } = ListenerProtocols.Http1;
    public TlsConfig? Tls { get; init; }
    /// <summary>Which HTTP server runs this listener (<c>engine</c>); null when not set, which means Kestrel.</summary>
    public ListenerEngine? Engine { get; init; }
    /// <summary>Limits in force on this listener: its own <c>connectionLimits</c> over the server default; null: none.</summary>
    public ConnectionLimitsConfig? ConnectionLimits { get; init; }
    [System.Text.Json.Serialization.JsonIgnore]
    public ConfigLocation Location { get; init; }
}

public sealed record TlsConfig
{
    public required string Certificate { get; init; }
    public required string Key { get; init; }
}

public sealed record AdminConfig
{
    public bool Enabled { get; init; } = true;
    public string Address { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 9901;
    /// <summary>Optional bearer token required on /admin/* (not on /healthz and /readyz). Secret: redacted in /admin/config.</summary>
    public string? Token { get; init; }
}

public sealed record LoggingConfig
{
    public Microsoft.Extensions.Logging.LogLevel Level { get; init; } = Microsoft.Extensions.Logging.LogLevel.Information;
    public AccessLogConfig AccessLog { get; init; } = new();
}

public sealed record AccessLogConfig
{
    public bool Enabled { get; init; }
    /// <summary>"stdout" or a file path.</summary>
    public string Path { get; init; } = "stdout";
    /// <summary>Fraction of requests logged, 0..1.</summary>
    public double SampleRate { get; init; } = 1.0;
    /// <summary>How long the writer waits after writing a batch before it looks for more lines (like Envoy's
    /// access-log flush interval): lines queue without waking anything in between. Zero: write as soon as a line is queued.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
}

/// <summary>A tiny in-process upstream used by the embedded default configuration.</summary>
public sealed record DemoUpstreamConfig
{
    public string Address { get; init; } = "127.0.0.1";
    public int Port { get; init; } = 8081;
}

public sealed record RouteConfig
{
    public required string Id { get; init; }
    public int Order { get; init; }
    public required RouteMatchConfig Match { get; init; }
    public required string Cluster { get; init; }
    public IReadOnlyList<IReadOnlyDictionary<string, string>> Transforms { get; init; } = [];
    /// <summary>Limit on the whole exchange, retries and backoff included; overrides the cluster's <c>http.requestTimeout</c>
    /// when set. Zero turns the limit off for this route. Null: the cluster's setting applies.</summary>
    public TimeSpan? Timeout { get; init; }
    /// <summary>Retries beyond the never-sent failover; null when the route has no <c>retry</c> block.</summary>
    public RouteRetryConfig? Retry { get; init; }
    /// <summary>Response-body bandwidth shaping; null when the route has no <c>bandwidth</c> block.</summary>
    public BandwidthConfig? Bandwidth { get; init; }
    /// <summary>Names of the <c>rateLimits</c> policies this route applies, in order (its <c>rateLimit</c>).</summary>
    public IReadOnlyList<string> RateLimits { get; init; } = [];
    /// <summary>Name of the <c>corsPolicies</c> entry this route applies (its <c>cors</c>); null: no CORS handling.</summary>
    public string? Cors { get; init; }
    /// <summary>Authentication and authorization; null when the route has no <c>auth</c> block (anonymous).</summary>
    public RouteAuthConfig? Auth { get; init; }
    /// <summary>Where the route was declared, for error messages.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public ConfigLocation Location { get; init; }
}

/// <summary>A route's <c>retry</c> block: when an attempt that reached an upstream may be repeated, and how.</summary>
public sealed record RouteRetryConfig
{
    public const int MaxAttemptsLimit = 10;
    public const long MaxReplayBodySizeLimit = 10 * 1024 * 1024;

    /// <summary>Attempts in all, the first included (1..10).</summary>
    public int Attempts { get; init; } = 2;
    /// <summary>Upstream statuses (400..599) that are retried; from the numbers in <c>on</c>.</summary>
    public IReadOnlyList<int> Statuses { get; init; } = [502, 503, 504];
    /// <summary>From <c>on: [timeout]</c>: retry an attempt that timed out (per-try or activity timeout).</summary>
    public bool OnTimeout { get; init; }
    /// <summary>From <c>on: [reset]</c>: retry when the upstream closed or reset the connection before answering.</summary>
    public bool OnReset { get; init; }
    /// <summary>Time an attempt has to deliver its response headers; zero: no per-try limit.</summary>
    public TimeSpan PerTryTimeout { get; init; } = TimeSpan.Zero;
    public RetryBackoffConfig Backoff { get; init; } = new();
    /// <summary>A 429/503 whose Retry-After asks for a longer wait is passed through instead of retried.</summary>
    public TimeSpan MaxRetryAfter { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Request bodies up to this many bytes (by Content-Length) are buffered so they can be sent again.</summary>
    public long MaxReplayBodySize { get; init; } = 64 * 1024;
    /// <summary>Also retry methods that are not idempotent (POST, PATCH, …) after they may have reached the upstream.</summary>
    public bool NonIdempotent { get; init; }
}

/// <summary>Exponential backoff with full jitter: retry n waits random(0, min(max, base·2^(n-1))).</summary>
public sealed record RetryBackoffConfig
{
    public TimeSpan Base { get; init; } = TimeSpan.FromMilliseconds(25);
    public TimeSpan Max { get; init; } = TimeSpan.FromMilliseconds(250);
}

/// <summary>
/// A cluster's retry budget (Finagle/Linkerd style): over the window, retries may not exceed
/// <see cref="Ratio"/> × requests + <see cref="MinPerSecond"/> × window seconds.
/// </summary>
public sealed record RetryBudgetConfig
{
    public double Ratio { get; init; } = 0.2;
    public int MinPerSecond { get; init; } = 10;
    public TimeSpan Window { get; init; } = TimeSpan.FromSeconds(10);
}

public sealed record RouteMatchConfig
{
    /// <summary>Path template: literals, {name} and a trailing {**rest} catch-all.</summary>
    public string? Path { get; init; }
    /// <summary>Path prefix on segment boundaries: "/api" matches "/api" and "/api/x", not "/apix".</summary>
    public string? PathPrefix { get; init; }
    public IReadOnlyList<string> Hosts { get; init; } = [];
    public IReadOnlyList<string> Methods { get; init; } = [];
    public IReadOnlyList<HeaderMatchConfig> Headers { get; init; } = [];
    public IReadOnlyList<QueryMatchConfig> Query { get; init; } = [];
}

public enum ValueMatchMode
{
    Exact,
    Prefix,
    Contains,
    Exists,
    NotExists,
}

public sealed record HeaderMatchConfig
{
    public required string Name { get; init; }
    public IReadOnlyList<string> Values { get; init; } = [];
    public ValueMatchMode Mode { get; init; } = ValueMatchMode.Exact;
    public bool CaseSensitive { get; init; }
}

public sealed record QueryMatchConfig
{
    public required string Name { get; init; }
    public IReadOnlyList<string> Values { get; init; } = [];
    public ValueMatchMode Mode { get; init; } = ValueMatchMode.Exact;
    public bool CaseSensitive { get; init; }
}

public sealed record ClusterConfig
{
    public required string Id { get; init; }
    public IReadOnlyList<DestinationConfig> Destinations { get; init; } = [];
    public UpstreamHttpConfig Http { get; init; } = new();
    public LoadBalancingConfig LoadBalancing { get; init; } = new();
    public HealthCheckConfig HealthCheck { get; init; } = new();
    /// <summary>Per-destination circuit breaker; null when off.</summary>
    public CircuitBreakerConfig? CircuitBreaker { get; init; }
    public RetryBudgetConfig RetryBudget { get; init; } = new();
    /// <summary>Adaptive concurrency limit; null when off.</summary>
    public AdaptiveConcurrencyConfig? AdaptiveConcurrency { get; init; }
    [System.Text.Json.Serialization.JsonIgnore]
    public ConfigLocation Location { get; init; }
}

/// <summary>How a cluster chooses a destination for each attempt. YAML names are snake_case (round_robin, p2c_ewma …).</summary>
public enum LoadBalancingPolicyKind
{
    RoundRobin,
    /// <summary>Smooth weighted round robin, as nginx: weights 5:1:1 interleave, never five in a row.</summary>
    WeightedRoundRobin,
    /// <summary>Fewest in-flight requests; ties broken by round robin.</summary>
    LeastConnections,
    Random,
    /// <summary>Power of two choices over peak-EWMA latency × (in-flight + 1), as Finagle/Linkerd.</summary>
    P2cEwma,
    /// <summary>Maglev consistent hashing over a key taken from the request.</summary>
    ConsistentHash,
}

public sealed record LoadBalancingConfig
{
    public LoadBalancingPolicyKind Policy { get; init; } = LoadBalancingPolicyKind.RoundRobin;
    /// <summary>For consistent_hash: where the key comes from. Defaults to the client IP.</summary>
    public HashKeyConfig HashKey { get; init; } = new();
    /// <summary>For p2c_ewma: the time constant of the latency average.</summary>
    public TimeSpan EwmaDecay { get; init; } = TimeSpan.FromSeconds(10);
}

public enum HashKeySource
{
    ClientIp,
    Header,
    Cookie,
    Query,
}

public sealed record HashKeyConfig
{
    public HashKeySource Source { get; init; } = HashKeySource.ClientIp;
    /// <summary>Header, cookie or query parameter name; null for the client IP.</summary>
    public string? Name { get; init; }
}

public sealed record DestinationConfig
{
    public required string Id { get; init; }
    public required string Address { get; init; }
    public int Weight { get; init; } = 1;
    /// <summary>Failover tier: 0 serves first; a higher number serves only while every lower tier has no eligible destination.</summary>
    public int Priority { get; init; }
    /// <summary>Active health probe path for this destination, overriding the cluster's.</summary>
    public string? Health { get; init; }
}

public sealed record UpstreamHttpConfig
{
    public int MaxConnectionsPerDestination { get; init; } = int.MaxValue;
    public TimeSpan PooledConnectionIdleTimeout { get; init; } = TimeSpan.FromSeconds(90);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>Whole-request limit; zero disables it.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.Zero;
    /// <summary>Idle time without upstream activity before the request fails with 504.</summary>
    public TimeSpan ActivityTimeout { get; init; } = TimeSpan.FromSeconds(100);
    /// <summary>"1.1" or "2" (HTTP/2 to the upstream; h2c prior knowledge on http:// addresses).</summary>
    public string Version { get; init; } = "1.1";
    public bool Http2MultipleConnections { get; init; } = true;
    /// <summary>How long resolved addresses of a host-name destination are cached before they are looked up again.</summary>
    public TimeSpan DnsRefresh { get; init; } = TimeSpan.FromMinutes(1);
    /// <summary>
    /// Age after which a pooled connection is not reused. Null (not set): <see cref="DnsRefresh"/> for clusters with a
    /// host-name destination, no limit for IP-only clusters. Zero: no limit.
    /// </summary>
    public TimeSpan? PooledConnectionLifetime { get; init; }
    /// <summary>HTTP/2 PING interval on idle connections; zero disables PINGs.</summary>
    public TimeSpan KeepAlivePingDelay { get; init; } = TimeSpan.Zero;
    /// <summary>How long to wait for a PING's answer before the connection is closed.</summary>
    public TimeSpan KeepAlivePingTimeout { get; init; } = TimeSpan.FromSeconds(20);
    public KeepAlivePingPolicy KeepAlivePingPolicy { get; init; } = KeepAlivePingPolicy.WithActiveRequests;
    /// <summary>TCP_NODELAY on upstream sockets (Nagle's algorithm off).</summary>
    public bool NoDelay { get; init; } = true;
    /// <summary>Largest upstream response header section in bytes (applied in whole KiB).</summary>
    public long MaxResponseHeadersSize { get; init; } = 64 * 1024;
    public bool DangerousAcceptAnyServerCertificate { get; init; }
    /// <summary>Which HTTP client sends to the upstream; null (not set) is <see cref="UpstreamEngine.Yarp"/>.</summary>
    public UpstreamEngine? Engine { get; init; }
}

/// <summary>The upstream HTTP client of a cluster: YARP's forwarder over SocketsHttpHandler, or Turnpike's raw HTTP/1.1 client.</summary>
public enum UpstreamEngine
{
    Yarp,
    /// <summary>Turnpike's own pooled HTTP/1.1 client on sockets (<c>Http1/Client</c>): http:// destinations, HTTP/1.1 only.</summary>
    Raw,
}

/// <summary>When HTTP/2 keep-alive PINGs are sent: only while requests are running, or always.</summary>
public enum KeepAlivePingPolicy
{
    WithActiveRequests,
    Always,
}

public readonly record struct ConfigLocation(string File, int Line, int Column)
{
    public override string ToString() => $"{File}:{Line}:{Column}";
}
